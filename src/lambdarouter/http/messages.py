"""POST /messages and /messages/count_tokens: Anthropic's Messages API, for the Anthropic SDKs and Claude Code.

Served under both prefixes, so `ANTHROPIC_BASE_URL=<gateway>` and `<gateway>/api` both work (the SDKs append
`/v1/messages`; Claude Code adds `?beta=true`, which changes nothing here). The key comes as Anthropic's
`x-api-key` or as `Authorization: Bearer` (Claude Code's `ANTHROPIC_AUTH_TOKEN`). Every error these routes
answer is in Anthropic's shape and status codes (dialects/anthropic/errors.py): the Anthropic SDKs parse no
other. A non-streamed answer with `Idempotency-Key` is kept and replayed, as on /chat/completions.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.anthropic.errors import error_body, status_and_type
from lambdarouter.dialects.anthropic.request import CountTokensRequest, MessagesRequest, parse
from lambdarouter.gateway.count_tokens import count_tokens
from lambdarouter.gateway.idempotency import idempotent
from lambdarouter.gateway.messages import MessagesOperation
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.body import read_body, while_connected
from lambdarouter.http.chat import streaming
from lambdarouter.http.errors import unexpected
from lambdarouter.http.state import gateway_of
from lambdarouter.providers.anthropic.passthrough import ClientHeaders
from lambdarouter.store import KeyRecord

Endpoint = Callable[[Request], Awaitable[Response]]


def in_anthropic_shape(endpoint: Endpoint) -> Endpoint:
    """The route with every error it raises answered as Anthropic answers errors."""

    async def answered(request: Request) -> Response:
        try:
            return await endpoint(request)
        except GatewayError as exc:
            return anthropic_error(exc)
        except Exception as exc:  # logged by `unexpected`; the client gets no traceback
            return anthropic_error(unexpected(exc))

    return answered


def anthropic_error(error: GatewayError) -> JSONResponse:
    status, _ = status_and_type(error)
    return JSONResponse(error_body(error), status_code=status, headers=error.headers or None)


def authorization(request: Request) -> str | None:
    """The gateway key as `Authorization` carries it: from Anthropic's `x-api-key` when the client sent one."""
    api_key = request.headers.get("x-api-key")
    return f"Bearer {api_key}" if api_key else request.headers.get("authorization")


async def messages(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(authorization(request))
    raw = await read_body(request)
    body: MessagesRequest = parse(MessagesRequest, raw)
    operation = MessagesOperation(body, raw, ClientHeaders.of(request.headers), gateway.catalog)
    if body.stream:
        streamed = await while_connected(request, gateway.run_stream(operation, key))
        return streaming(streamed, frame=bytes, headers={"request-id": streamed.id})
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None:
        return await idempotent(gateway.store, key.hash, idempotency_key, raw,
                                lambda: while_connected(request, _answer(gateway, operation, key)))
    return await while_connected(request, _answer(gateway, operation, key))


async def _answer(gateway: Gateway, operation: MessagesOperation, key: KeyRecord) -> Response:
    done = await gateway.run(operation, key)
    return Response(json.dumps(done.answer, ensure_ascii=False), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id, "request-id": done.id})


async def messages_count_tokens(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(authorization(request))
    raw = await read_body(request)
    body: CountTokensRequest = parse(CountTokensRequest, raw)
    count = await count_tokens(gateway, key, body, raw, ClientHeaders.of(request.headers))
    return JSONResponse({"input_tokens": count.input_tokens}, headers={"x-token-count": count.source})


ROUTES = [
    Route("/messages", in_anthropic_shape(messages), methods=["POST"]),
    Route("/messages/count_tokens", in_anthropic_shape(messages_count_tokens), methods=["POST"]),
]
