"""POST /chat/completions: streamed (SSE) and not; `Idempotency-Key` replays a non-streamed answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from lambdarouter.core import config
from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.gateway.chat import ChatOperation
from lambdarouter.gateway.idempotency import idempotent
from lambdarouter.gateway.relay import Relay
from lambdarouter.gateway.service import Gateway, Streamed
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of
from lambdarouter.store import KeyRecord

T = TypeVar("T")
# API Gateway's payload limit; larger bodies never reach a function there, and locally they are refused.
MAX_BODY_BYTES = 10 * 1024 * 1024
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
KEEPALIVE_SECONDS = config.current().keepalive_seconds


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise GatewayError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise GatewayError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    return body


def parse_request(body: bytes) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def read_request(request: Request) -> ChatCompletionRequest:
    return parse_request(await read_body(request))


async def chat_completions(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(request.headers.get("authorization"))
    raw = await read_body(request)
    body = parse_request(raw)
    if body.stream:
        return streaming(await while_connected(request, gateway.run_stream(ChatOperation(body), key)))
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        return await idempotent(gateway.store, key.hash, idempotency_key, raw,
                                lambda: while_connected(request, _complete(gateway, body, key)))
    return await while_connected(request, _complete(gateway, body, key))


async def _complete(gateway: Gateway, body: ChatCompletionRequest, key: KeyRecord) -> Response:
    done = await gateway.run(ChatOperation(body), key)
    return Response(done.answer.model_dump_json(), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


def streaming(streamed: Streamed, *, frame: Callable[[Any], bytes] | None = None, done: bytes = b"",
              headers: dict[str, str] | None = None) -> StreamingResponse:
    """The SSE response of an opened stream; the relay is closed (and booked) however the response ends. Another
    dialect gives its own `frame`, end marker (`done`) and headers (see `sse`)."""
    events = sse(streamed.relay) if frame is None else sse(streamed.relay, frame=frame, done=done)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={**SSE_HEADERS, **streamed.headers, "x-generation-id": streamed.id,
                                      **(headers or {})},
                             background=BackgroundTask(streamed.relay.close))


async def while_connected(request: Request, work: Awaitable[T]) -> T:
    """`work`, cancelled when the client goes away meanwhile: no failover or retry runs for nobody, and the
    generation is booked `aborted` (the body was read already, so the next ASGI message is the disconnect)."""
    with anyio.CancelScope() as scope:
        watcher = asyncio.get_running_loop().create_task(_cancel_on_disconnect(request, scope))
        try:
            return await work
        finally:
            watcher.cancel()
    raise GatewayError(499, "The client closed the request.")


async def _cancel_on_disconnect(request: Request, scope: anyio.CancelScope) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


def data_frame(chunk: Any) -> bytes:
    """An OpenAI-style SSE event: the chunk's JSON on one `data:` line."""
    serialized: str = chunk.model_dump_json(exclude_none=True)
    return b"data: " + serialized.encode() + b"\n\n"


async def sse(relay: Relay[Any, Any], keepalive: float | None = None, *,
              frame: Callable[[Any], bytes] = data_frame, done: bytes = DONE) -> AsyncIterator[bytes]:
    """One event per chunk as it arrives (`frame`; OpenAI's `data:` lines by default), then `done`
    (`data: [DONE]`); `: keep-alive` comments while the upstream is silent, because API Gateway closes a
    stream idle for 5 minutes and proxies sooner. Another dialect frames its own events (Anthropic's carry
    `event:` names and end without a marker).

    The relay runs in its own task so that waiting for it can time out without cancelling it; when the
    client goes away, this generator is closed and cancels that task, which records what was produced.
    """
    interval = keepalive if keepalive is not None else KEEPALIVE_SECONDS
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)
    ended = asyncio.Event()
    # Cancelled through anyio, not Task.cancel(): the relay's accounting runs in an anyio shielded scope,
    # which only anyio cancellation respects.
    scope = anyio.CancelScope()

    async def produce() -> None:
        with scope:
            try:
                async for chunk in relay.chunks():
                    await queue.put(frame(chunk))
            finally:
                # The end marker, or — when the queue is full and nobody may be reading any more — the flag
                # the reader checks once it has drained what is queued (never block here: the client may
                # be gone).
                ended.set()
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

    task = asyncio.get_running_loop().create_task(produce())
    _producers.add(task)  # held until done: a client that left does not stop the books being closed
    task.add_done_callback(_producers.discard)
    try:
        while not (ended.is_set() and queue.empty()):
            try:
                item = await asyncio.wait_for(queue.get(), interval)
            except TimeoutError:
                yield KEEPALIVE
                continue
            if item is None:
                break
            yield item
        await task  # an unexpected failure in the relay surfaces here
        if done:
            yield done
    finally:
        scope.cancel()  # a no-op when the relay already ended


_producers: set[asyncio.Task[None]] = set()


ROUTES = [Route("/chat/completions", chat_completions, methods=["POST"])]
