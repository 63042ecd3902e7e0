"""HTTP endpoints outside ``/rest``: health, OpenAPI, the OAuth pages (and later the widget)."""
