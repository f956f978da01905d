"""GET /key: the calling key's label, limit, limit_remaining, usage and rate limit (OpenRouter's shape)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.http.control import calling_key, data
from lambdarouter.keys import key_info


async def current_key(request: Request) -> Response:
    _, key = await calling_key(request)
    return data(key_info(key, time.time()))


ROUTES = [Route("/key", current_key, methods=["GET"])]
