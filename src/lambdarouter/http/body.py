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
# How long a non-streamed request's work runs before a watcher looks for its client leaving (`while_connected`):
# what a client that left may still cost in upstream work, far below any model's answer time.
WATCH_AFTER_SECONDS = 0.05


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
    generation is booked `aborted` (the body was read already, so the next ASGI message is the disconnect).

    The watcher (a task reading that next message) starts only once the work has run `WATCH_AFTER_SECONDS`: a
    disconnect is recorded by the server as it happens, so a watcher started late still finds it at once, and an
    answer back sooner (a fast upstream, an error) costs a timer instead of a task started and cancelled, with
    its await on the connection's event (docs/performance.md, "Concurrency 1")."""
    loop = asyncio.get_running_loop()
    watchers: list[asyncio.Task[None]] = []
    with anyio.CancelScope() as scope:
        def watch() -> None:
            watchers.append(loop.create_task(cancel_on_disconnect(request.receive, scope)))

        timer = loop.call_later(WATCH_AFTER_SECONDS, watch)
        try:
            return await work
        finally:
            timer.cancel()
            for watcher in watchers:
                watcher.cancel()
    raise GatewayError(499, "The client closed the request.")
