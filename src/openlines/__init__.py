"""openlines: a self-hosted Open Lines server, wire-compatible with the Bitrix24 chat-bot REST API."""

__version__ = "0.1.0"
