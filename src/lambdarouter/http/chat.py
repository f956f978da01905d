"""POST /chat/completions: streamed (SSE) and not; `Idempotency-Key` replays a non-streamed answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.core import config
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.gateway.chat import ChatOperation
from lambdarouter.gateway.idempotency import idempotent
from lambdarouter.gateway.service import Gateway, Streamed
from lambdarouter.http.body import read_body, while_connected
from lambdarouter.http.errors import validation_error
from lambdarouter.http.sse import DONE, EventStream, data_event
from lambdarouter.http.state import gateway_of
from lambdarouter.store import KeyRecord

KEEPALIVE_SECONDS = config.current().keepalive_seconds


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
    return await answered_once(request, gateway, key, raw, lambda: _complete(gateway, body, key))


async def answered_once(request: Request, gateway: Gateway, key: KeyRecord, body: bytes,
                        answer: Callable[[], Awaitable[Response]]) -> Response:
    """A non-streamed answer, cancelled if the client leaves meanwhile; with `Idempotency-Key`, kept and replayed
    (charged once)."""
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is None:
        return await while_connected(request, answer())
    return await idempotent(gateway.store, key.hash, idempotency_key, body,
                            lambda: while_connected(request, answer()))


async def _complete(gateway: Gateway, body: ChatCompletionRequest, key: KeyRecord) -> Response:
    done = await gateway.run(ChatOperation(body), key)
    return Response(done.answer, media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


def streaming(streamed: Streamed, *, frame: Callable[[Any], bytes] | None = None, done: bytes | None = None,
              headers: dict[str, str] | None = None) -> EventStream:
    """The SSE response of an opened stream; the relay is closed (and booked) however the response ends. Another
    dialect gives its own `frame`, end marker (`done`: none unless it says, as Anthropic's and the Responses
    API's streams end on their last event) and headers (see `EventStream`)."""
    end = done if done is not None else DONE if frame is None else b""
    return EventStream(streamed.relay, keepalive=KEEPALIVE_SECONDS, frame=frame or data_event, done=end,
                       headers={**streamed.headers, "x-generation-id": streamed.id, **(headers or {})},
                       background=BackgroundTask(streamed.relay.close))


ROUTES = [Route("/chat/completions", chat_completions, methods=["POST"])]
