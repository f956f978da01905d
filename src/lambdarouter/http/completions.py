"""POST /completions (legacy `prompt`), streamed (SSE) and not: natively where the endpoint has the legacy API,
translated to chat where it has not (gateway/completions.py); auth, limits, fallback and the ledger row are the
operations' own (`Gateway.operate` / `operate_stream`)."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from lambdarouter.dialects.openrouter.completions import CompletionRequest
from lambdarouter.gateway.completions import TextCompletionOperation, response
from lambdarouter.http.chat import SSE_HEADERS, read_body, sse
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of


async def completions(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(request.headers.get("authorization"))
    try:
        body = CompletionRequest.model_validate_json(await read_body(request))
    except ValidationError as exc:
        raise validation_error(exc) from None
    operation = TextCompletionOperation(body)
    if body.stream:
        streamed = await gateway.operate_stream(operation, key)
        return StreamingResponse(sse(streamed.relay), media_type="text/event-stream",
                                 headers={**SSE_HEADERS, **streamed.headers, "x-generation-id": streamed.id},
                                 background=BackgroundTask(streamed.relay.close))
    done = await gateway.operate(operation, key)
    return Response(response(done).model_dump_json(exclude_none=True), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


ROUTES = [Route("/completions", completions, methods=["POST"])]
