"""Run a bot's own ASGI app (Starlette, FastAPI, ...) on a free loopback port for the length of a test,
so openlines can deliver events to it: ``with serve_asgi(app) as url: ...``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from openlines.testing.server import free_port


@contextmanager
def serve_asgi(app: Any, path: str = "/", timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields ``http://127.0.0.1:PORT{path}``."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="openlines-test-asgi")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        server.should_exit = True
        thread.join(timeout)
