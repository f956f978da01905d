"""POST /chat/completions: streamed (SSE) and not."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from lambdarouter.errors import GatewayError
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of
from lambdarouter.schemas.chat import ChatCompletionChunk, ChatCompletionRequest

# API Gateway's payload limit; larger bodies never reach a function there, and locally they are refused.
MAX_BODY_BYTES = 10 * 1024 * 1024
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def read_request(request: Request) -> ChatCompletionRequest:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise GatewayError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise GatewayError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        return ChatCompletionRequest.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def chat_completions(request: Request) -> Response:
    gateway = gateway_of(request)
    key = gateway.authenticate(request.headers.get("authorization"))
    body = await read_request(request)
    if body.stream:
        generation_id, chunks = await gateway.stream(body, key)
        return StreamingResponse(sse(chunks), media_type="text/event-stream",
                                 headers={**SSE_HEADERS, "x-generation-id": generation_id})
    generation_id, completion = await gateway.complete(body, key)
    return Response(completion.model_dump_json(), media_type="application/json",
                    headers={"x-generation-id": generation_id})


async def sse(chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
    """One `data:` event per chunk as it arrives, then `data: [DONE]`."""
    async for chunk in chunks:
        yield b"data: " + chunk.model_dump_json(exclude_none=True).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


ROUTES = [Route("/chat/completions", chat_completions, methods=["POST"])]
