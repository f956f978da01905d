"""GET /credits (management key): the sum of every key's limit and of every key's usage, in USD."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.admin.keys import usd
from lambdarouter.http.control import admin_only, data
from lambdarouter.store import totals


async def credits(request: Request) -> Response:
    store = await admin_only(request)
    limits, usage = totals(await store.list_keys())
    return data({"total_credits": usd(limits), "total_usage": usd(usage)})  # usd(): finite, even for odd rows


ROUTES = [Route("/credits", credits, methods=["GET"])]
