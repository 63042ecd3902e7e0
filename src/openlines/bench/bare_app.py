"""W0s: a bare Starlette no-op app on uvicorn (uvloop, httptools, no access log), the stack anchor.

Run as ``python -m openlines.bench.bare_app --port N``; it answers any path with ``{"result":true}``.
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"result":true}'


async def noop(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/{path:path}", noop, methods=["GET", "POST"]),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep-alive", type=int, default=5, help="idle keep-alive timeout in seconds")
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_keep_alive=args.keep_alive,
    )


if __name__ == "__main__":
    main()
