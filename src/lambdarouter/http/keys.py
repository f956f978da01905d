"""POST/GET /keys and GET/PATCH/DELETE /keys/{hash}: key management with the management key.

Shapes follow OpenRouter's key management API (https://openrouter.ai/docs/features/provisioning-api-keys):
`{"data": key}` / `{"data": [keys]}`, the plaintext once in `"key"` on create, `{"deleted": true}`.

Only POST and PATCH parse a body (pydantic, admin/key_body.py): it is imported by the first of them, so the
GETs the dashboard sends first do not pay for it in the management function's cold start.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lambdarouter.admin.keys import key_data
from lambdarouter.core.errors import bad_request
from lambdarouter.http.control import admin_only, data, json_body, not_found, query_int
from lambdarouter.store import Store

if TYPE_CHECKING:
    from lambdarouter.admin.key_body import KeyBody

PAGE_SIZE = 100
ZERO_SPEND: Mapping[str, Decimal] = {"daily": Decimal(0), "weekly": Decimal(0), "monthly": Decimal(0)}  # a new key


async def spend_per_key(store: Store, key_hashes: list[str], now: float) -> dict[str, Mapping[str, Decimal]]:
    """Each key's spend in the current UTC day, week and month, from the store's per-day aggregates (a bounded
    read per key, never the ledger)."""
    return {key_hash: await store.period_spend(key_hash, now) for key_hash in key_hashes}


async def key_body(request: Request) -> KeyBody:
    from lambdarouter.admin.key_body import KeyBody

    return await json_body(request, KeyBody)


async def create_key(request: Request) -> Response:
    store = await admin_only(request)
    body = await key_body(request)
    try:
        settings = body.settings()
    except ValueError as exc:
        raise bad_request(f"Invalid request: {exc}") from None
    plaintext, record = await store.create_key(settings.name, settings)
    now = time.time()
    return data(key_data(record, now, ZERO_SPEND), status=201, key=plaintext)


async def list_keys(request: Request) -> Response:
    store = await admin_only(request)
    offset = query_int(request, "offset", 0)
    include_disabled = request.query_params.get("include_disabled", "false").lower() == "true"
    records = await store.list_keys()
    shown = [r for r in records if include_disabled or not r.disabled][offset:offset + PAGE_SIZE]
    now = time.time()
    spend = await spend_per_key(store, [r.hash for r in shown], now)
    return data([key_data(r, now, spend[r.hash]) for r in shown])


async def get_key(request: Request) -> Response:
    store = await admin_only(request)
    record = await store.find_key(request.path_params["hash"])
    if record is None:
        raise not_found("Key")
    now = time.time()
    return data(key_data(record, now, (await spend_per_key(store, [record.hash], now))[record.hash]))


async def update_key(request: Request) -> Response:
    store = await admin_only(request)
    body = await key_body(request)
    if "name" in body.model_fields_set and not body.name:
        raise bad_request("Invalid request: name: a key needs a name")
    now = time.time()
    record = await store.update_key(request.path_params["hash"], body.changes(), now)
    if record is None:
        raise not_found("Key")
    return data(key_data(record, now, (await spend_per_key(store, [record.hash], now))[record.hash]))


async def delete_key(request: Request) -> Response:
    store = await admin_only(request)
    if not await store.delete_key(request.path_params["hash"]):
        raise not_found("Key")
    return JSONResponse({"deleted": True})


ROUTES = [
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys", list_keys, methods=["GET"]),
    Route("/keys/{hash}", get_key, methods=["GET"]),
    Route("/keys/{hash}", update_key, methods=["PATCH"]),
    Route("/keys/{hash}", delete_key, methods=["DELETE"]),
]
