"""GET /key: the calling key's label, limit, limit_remaining, usage (in all and per current UTC day, week and
month) and rate limit, in OpenRouter's shape."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.admin.keys import key_info
from lambdarouter.http.control import calling_key, data


async def current_key(request: Request) -> Response:
    store, key = await calling_key(request)
    now = time.time()
    # The day aggregates of the current month and week (store/summary.py): a bounded read, off the loop.
    return data(key_info(key, now, await store.period_spend(key.hash, now)))


ROUTES = [Route("/key", current_key, methods=["GET"])]
