"""What every inference route shares whatever its dialect: the request body, read within API Gateway's limit, and
the work, cancelled when the client goes away. A module of its own so that the embeddings and image routes get them
without importing the chat route and with it the chat dialect's schemas (tests/test_function_imports.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import anyio
from starlette.requests import Request

from lambdarouter.core.errors import GatewayError
from lambdarouter.http.sse import cancel_on_disconnect

T = TypeVar("T")
# API Gateway's payload limit; larger bodies never reach a function there, and locally they are refused.
MAX_BODY_BYTES = 10 * 1024 * 1024


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise GatewayError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise GatewayError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    return body


async def while_connected(request: Request, work: Awaitable[T]) -> T:
    """`work`, cancelled when the client goes away meanwhile: no failover or retry runs for nobody, and the
    generation is booked `aborted` (the body was read already, so the next ASGI message is the disconnect)."""
    with anyio.CancelScope() as scope:
        watcher = asyncio.get_running_loop().create_task(cancel_on_disconnect(request.receive, scope))
        try:
            return await work
        finally:
            watcher.cancel()
    raise GatewayError(499, "The client closed the request.")
