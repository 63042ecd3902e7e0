"""REST methods, one module per namespace; ``catalog`` puts them in one registry."""
