"""POST /completions (legacy `prompt`), streamed (SSE) and not: natively where the endpoint has the legacy API,
translated to chat where it has not (gateway/completions.py); auth, limits, fallback and the ledger row are the
operations' own (`Gateway.run` / `run_stream`)."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.dialects.openrouter.completions import CompletionRequest
from lambdarouter.gateway.completions import TextCompletionOperation
from lambdarouter.http.body import read_body, while_connected
from lambdarouter.http.chat import streaming
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
        return streaming(await while_connected(request, gateway.run_stream(operation, key)))
    done = await while_connected(request, gateway.run(operation, key))
    return Response(done.answer.model_dump_json(exclude_none=True), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


ROUTES = [Route("/completions", completions, methods=["POST"])]
