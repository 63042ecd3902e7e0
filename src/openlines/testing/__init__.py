"""Testing a bot against a real openlines server.

With pytest the plugin (``openlines.testing.plugin``, loaded through the ``pytest11`` entry point)
gives the ``openlines_server`` fixture. Without pytest, use :class:`OpenlinesServer` directly::

    with OpenlinesServer("--demo", "--fake-clock") as server:
        server.customer(line=1).says("hello")

This package does not import pytest.
"""

from openlines.testing.asgi import serve_asgi
from openlines.testing.receiver import Event, EventReceiver
from openlines.testing.server import Customer, OpenlinesError, OpenlinesServer

__all__ = ["Customer", "Event", "EventReceiver", "OpenlinesError", "OpenlinesServer", "serve_asgi"]
