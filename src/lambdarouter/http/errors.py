"""Every error a client sees, rendered in the design's envelope; never a traceback."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lambdarouter.core.errors import GatewayError
from lambdarouter.store.errors import StoreUnavailable

if TYPE_CHECKING:  # the control functions never import pydantic (their routes parse no body, or parse it late)
    from pydantic import ValidationError

logger = logging.getLogger(__name__)


def error_response(error: GatewayError) -> JSONResponse:
    return JSONResponse(error.envelope(), status_code=error.status, headers=error.headers or None)


def validation_error(exc: ValidationError) -> GatewayError:
    """The first problem pydantic found, said plainly (`messages.0.role: ...`)."""
    first: Any = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return GatewayError(400, "Request body is not valid JSON.")
    location = ".".join(str(part) for part in first["loc"])
    where = f"{location}: " if location else ""
    return GatewayError(400, f"Invalid request: {where}{first['msg']}",
                        metadata={"errors": [_plain(e) for e in exc.errors(include_url=False, include_input=False)]})


def _plain(error: Any) -> dict[str, Any]:
    return {"loc": [str(part) for part in error["loc"]], "msg": error["msg"], "type": error["type"]}


async def on_gateway_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def on_http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "No such route.", 405: "Method not allowed on this route."}.get(exc.status_code, exc.detail)
    return error_response(GatewayError(exc.status_code, message))


def unexpected(exc: Exception) -> GatewayError:
    """An exception no route expected, logged, as what a client may be told: whatever the store's database said
    (store/errors.py) is a retryable 503 (fail closed), anything else an internal error with nothing of the
    exception in it. A route answering in another dialect's shape renders the same (http/messages.py)."""
    if isinstance(exc, StoreUnavailable):
        logger.error("store unavailable: %s", exc, exc_info=exc)
        return GatewayError(503, "The gateway's key and usage store is unavailable; retry shortly.",
                            headers={"retry-after": "1"})
    logger.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return GatewayError(500, "Internal error.")


async def on_store_unavailable(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreUnavailable)
    return error_response(unexpected(exc))


async def on_unexpected(_: Request, exc: Exception) -> Response:
    unexpected(exc)
    return JSONResponse({"error": {"code": 500, "message": "Internal error.", "type": "internal_error"}},
                        status_code=500)
