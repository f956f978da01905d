"""Admin-only JSON for the dashboard: usage over time, the request log, and which hosts are configured.

GET /usage?since=&until=&bucket=hour|day&by=key|model|provider  time series (admin/usage.py), from the aggregates
GET /generations?limit=&cursor=&key=                            the request log, newest first, a page at a time
GET /generations/{id}                                           one generation with its attempts
GET /hosts                                                      each host: configured or not (never the values)

All need the management key, like /keys: a gateway key sees only its own generations, through /generation.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.admin.keys import generation_data, parse_time
from lambdarouter.admin.usage import BUCKET_SECONDS, GROUP_BY, bucket_starts, time_series
from lambdarouter.core.errors import bad_request
from lambdarouter.core.hosts import is_configured
from lambdarouter.http.catalog import catalog_of
from lambdarouter.http.control import admin_only, credentials_of, data, not_found, query_int
from lambdarouter.store import GenerationRecord, InvalidCursor, KeyStore

# Default periods: a day of hours, or thirty days.
DEFAULT_SPAN = {"hour": 24 * 3600, "day": 30 * 86400}
MAX_PAGE = 500


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name, default)
    if value not in choices:
        raise bad_request(f"`{name}` must be one of {', '.join(choices)}.")
    return value


def _time(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise bad_request(f"`{name}` must be an ISO 8601 time, like 2025-01-31T00:00:00Z.") from None


async def _key_names(keys: KeyStore) -> dict[str, str]:
    return {k.hash: k.name for k in await keys.list_keys()}


async def usage(request: Request) -> Response:
    store = await admin_only(request)
    bucket = _choice(request, "bucket", tuple(BUCKET_SECONDS), "hour")
    by = _choice(request, "by", GROUP_BY, "model")
    until = _time(request, "until") or time.time()
    since = _time(request, "since") or until - DEFAULT_SPAN[bucket]
    if since >= until:
        raise bad_request("`since` must be before `until`.")
    try:
        bucket_starts(since, until, bucket)
    except ValueError as exc:  # too many buckets for one chart
        raise bad_request(str(exc)) from None
    rows = await store.usage(since, until, bucket)
    return data(time_series(rows, since, until, bucket, by, await _key_names(store)))


def log_entry(record: GenerationRecord, key_names: dict[str, str]) -> dict[str, Any]:
    """A ledger row as GET /generation shows it, plus whose it was and why it failed."""
    return {**generation_data(record), "key_hash": record.key_hash,
            "key_name": key_names.get(record.key_hash), "time_to_first_token": record.first_token_ms,
            "error": record.error}


async def generations(request: Request) -> Response:
    store = await admin_only(request)
    limit = min(max(query_int(request, "limit", 50), 1), MAX_PAGE)
    try:
        page = await store.generations(request.query_params.get("key") or None, limit,
                                       request.query_params.get("cursor") or None)
    except InvalidCursor as exc:
        raise bad_request(str(exc)) from None
    names = await _key_names(store)
    return data([log_entry(r, names) for r in page.records], next_cursor=page.next_cursor)


async def generation(request: Request) -> Response:
    store = await admin_only(request)
    generation_id = request.path_params["id"]
    record = await store.get_generation(generation_id)
    if record is None:
        raise not_found(f"Generation {generation_id}")
    return data(log_entry(record, await _key_names(store)))


async def hosts(request: Request) -> Response:
    await admin_only(request)
    catalog, credentials = catalog_of(request), credentials_of(request)
    served: dict[str, list[str]] = {name: [] for name in catalog.hosts}
    for model in catalog.models.values():
        for endpoint in model.endpoints:
            served.setdefault(endpoint.host, []).append(model.id)
    return data([{"name": spec.name, "display_name": spec.display_name, "wire_format": spec.wire_format,
                  "configured": is_configured(spec, credentials), "models": sorted(set(served.get(name, [])))}
                 for name, spec in catalog.hosts.items()])


ROUTES = [
    Route("/usage", usage, methods=["GET"]),
    Route("/generations", generations, methods=["GET"]),
    Route("/generations/{id}", generation, methods=["GET"]),
    Route("/hosts", hosts, methods=["GET"]),
]


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"data": schema}}}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/ErrorResponse"}}}}


def _log_page() -> dict[str, Any]:
    page = _ok({"type": "array", "items": _ENTRY}, "Newest first")
    page["content"]["application/json"]["schema"]["properties"]["next_cursor"] = {
        "type": ["string", "null"], "description": "continues the log (null: nothing older)"}
    return page


_ADMIN_ERRORS = {"401": _error("Missing or invalid management key"), "403": _error("A gateway key, not the "
                                                                                      "management key")}
_METRICS = {name: {"type": kind} for name, kind in (
    ("requests", "integer"), ("prompt_tokens", "integer"), ("completion_tokens", "integer"), ("tokens", "integer"),
    ("images", "integer"), ("cost", "number"), ("errors", "integer"), ("latency_p50", ["integer", "null"]),
    ("latency_p95", ["integer", "null"]), ("ttft_p50", ["integer", "null"]), ("ttft_p95", ["integer", "null"]))}
_QUERY = [{"name": n, "in": "query", "schema": s} for n, s in (
    ("since", {"type": "string", "format": "date-time"}), ("until", {"type": "string", "format": "date-time"}),
    ("bucket", {"enum": list(BUCKET_SECONDS)}), ("by", {"enum": list(GROUP_BY)}))]
_ENTRY = {"type": "object", "properties": {"id": {"type": "string"}, "key_hash": {"type": "string"},
                                           "key_name": {"type": ["string", "null"]},
                                           "num_media_completion": {"type": "integer"},
                                           "provider_responses": {"type": "array"}}}
# Merged into GET /openapi.json by http/openapi.py (admin security: the management key).
OPERATIONS: dict[str, dict[str, Any]] = {
    "/usage": {"get": {"operationId": "getUsage", "security": [{"admin": []}], "parameters": _QUERY, "responses": {
        "200": _ok({"type": "object", "properties": {
            "since": {"type": "string"}, "until": {"type": "string"}, "bucket": {"type": "string"},
            "by": {"type": "string"}, "totals": {"type": "object", "properties": _METRICS},
            "groups": {"type": "array", "items": {"type": "object", "properties": {
                "group": {"type": "string"}, **_METRICS}}},
            "series": {"type": "array", "items": {"type": "object", "properties": {
                "start": {"type": "string"}, **_METRICS, "groups": {"type": "object"}}}}}}),
        "400": _error("Bad period, bucket or grouping"), **_ADMIN_ERRORS}}},
    "/generations": {"get": {"operationId": "listGenerations", "security": [{"admin": []}], "parameters": [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
        {"name": "cursor", "in": "query", "schema": {"type": "string"},
         "description": "`next_cursor` of the previous page"},
        {"name": "key", "in": "query", "schema": {"type": "string"}, "description": "a key's hash"}],
        "responses": {"200": _log_page(), "400": _error("A cursor this API did not return"), **_ADMIN_ERRORS}}},
    "/generations/{id}": {"get": {"operationId": "getAnyGeneration", "security": [{"admin": []}], "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _ok(_ENTRY), "404": _error("No such generation"), **_ADMIN_ERRORS}}},
    "/hosts": {"get": {"operationId": "listHosts", "security": [{"admin": []}], "responses": {
        "200": _ok({"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "display_name": {"type": "string"}, "wire_format": {"type": "string"},
            "configured": {"type": "boolean"}, "models": {"type": "array", "items": {"type": "string"}}}}}),
        **_ADMIN_ERRORS}}},
}
