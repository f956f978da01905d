"""GET /health: liveness, no dependencies touched."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lambdarouter import __version__


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


ROUTES = [Route("/health", health, methods=["GET"])]
