"""GET /key: the calling key's label, limit, limit_remaining, usage (in all and per current UTC day, week and
month) and rate limit, in OpenRouter's shape."""

from __future__ import annotations

import time
from functools import partial

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.admin.keys import key_info
from lambdarouter.admin.usage import period_spend, periods_since
from lambdarouter.http.control import calling_key, data


async def current_key(request: Request) -> Response:
    store, key = await calling_key(request)
    now = time.time()
    # Up to a month of the key's ledger rows: a report, off the event loop (as /usage's are).
    records = await anyio.to_thread.run_sync(partial(store.query_generations, key.hash, periods_since(now)))
    return data(key_info(key, now, period_spend(records, now)))


ROUTES = [Route("/key", current_key, methods=["GET"])]
