"""What the control routes (/keys, /credits, /key, /generation) share: the store, the caller, JSON bodies.

They never import the service (and with it the adapters and httpx): a control function's cold start
pays for the store only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

from lambdarouter.core.credentials import Credentials, admin_credentials_from_env, credentials_from_env
from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.gateway.auth import authenticate_key, require_admin
from lambdarouter.http.errors import validation_error
from lambdarouter.store import KeyRecord, Store, shared_store

if TYPE_CHECKING:  # pydantic is imported by the first body parsed: GET /key and /generation never load it
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def store_of(request: Request) -> Store:
    """The injected gateway's store (tests, and the local server's one process), else the shared one."""
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None:
        store: Store = gateway.store
        return store
    return shared_store()


def credentials_of(request: Request) -> Credentials:
    gateway = getattr(request.app.state, "gateway", None)
    credentials: Credentials = gateway.credentials if gateway is not None else credentials_from_env()
    return credentials


def admin_credentials_of(request: Request) -> Credentials:
    """Where the management key is read (on AWS, a secret only the management function may read)."""
    gateway = getattr(request.app.state, "gateway", None)
    credentials: Credentials = gateway.credentials if gateway is not None else admin_credentials_from_env()
    return credentials


async def admin_only(request: Request) -> Store:
    """The store, for the management key only: it is checked without I/O, and only a refused `sk-lr-` token
    costs one key lookup, to tell 403 from 401."""
    store = store_of(request)
    await require_admin(admin_credentials_of(request), store, request.headers.get("authorization"), time.time())
    return store


async def calling_key(request: Request) -> tuple[Store, KeyRecord]:
    store = store_of(request)
    key = await authenticate_key(store, request.headers.get("authorization"), time.time())
    return store, key


async def json_body(request: Request, model: type[M]) -> M:
    from pydantic import ValidationError

    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise validation_error(exc) from None


def data(payload: Any, status: int = 200, **extra: Any) -> JSONResponse:
    return JSONResponse({"data": payload, **extra}, status_code=status)


def not_found(what: str) -> GatewayError:
    return GatewayError(404, f"{what} not found.")


MAX_QUERY_INT = 10**9  # past any page or offset there is to show


def query_int(request: Request, name: str, default: int) -> int:
    """A non-negative integer query parameter (ASCII digits: `str.isdigit` also takes "²", which `int` refuses)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_QUERY_INT))) or int(raw) > MAX_QUERY_INT:
        raise bad_request(f"`{name}` must be an integer from 0 to {MAX_QUERY_INT}.")
    return int(raw)
