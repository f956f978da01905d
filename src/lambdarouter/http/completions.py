"""POST /completions (legacy `prompt`), streamed (SSE) and not, served through the chat path.

The prompt becomes one user message (schemas/completions.py); the chat answer or chunks are rewritten into
the `text_completion` shape. Auth, limits, routing, fallback and the ledger row are the chat path's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from lambdarouter.http.chat import SSE_HEADERS, read_body, sse
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of
from lambdarouter.relay import Relay
from lambdarouter.schemas.completions import CompletionRequest, TextCompletion, chunk_from_chat, from_chat


class TextRelay:
    """A chat relay whose chunks come out as text-completion chunks (what `sse` writes is their JSON)."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def chunks(self) -> AsyncIterator[TextCompletion]:
        async for chunk in self.relay.chunks():
            text = chunk_from_chat(chunk)
            if text is not None:
                yield text


async def completions(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(request.headers.get("authorization"))
    try:
        body = CompletionRequest.model_validate_json(await read_body(request))
    except ValidationError as exc:
        raise validation_error(exc) from None
    chat = body.to_chat()
    if chat.stream:
        streamed = await gateway.stream(chat, key)
        # `sse` only iterates `chunks()` and serializes each chunk: the text relay stands in for the relay.
        writer = sse(cast(Relay, TextRelay(streamed.relay)))
        return StreamingResponse(writer, media_type="text/event-stream",
                                 headers={**SSE_HEADERS, **streamed.headers, "x-generation-id": streamed.id},
                                 background=BackgroundTask(streamed.relay.close))
    answer = await gateway.complete(chat, key)
    return Response(from_chat(answer.completion).model_dump_json(), media_type="application/json",
                    headers={**answer.headers, "x-generation-id": answer.id})


ROUTES = [Route("/completions", completions, methods=["POST"])]
