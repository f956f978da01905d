"""POST /responses (OpenAI's Responses API), streamed (SSE, `event:` + `data:` per event) and not; `Idempotency-Key`
replays a non-streamed answer. GET and DELETE /responses/{id} answer a 400: no response is stored (stateless,
as OpenRouter's; docs/responses.md). Auth, limits, failover and the ledger row are the operation's
(gateway/responses.py through `Gateway.operate` / `operate_stream`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.core.errors import bad_request
from lambdarouter.dialects.responses.request import ResponsesRequest
from lambdarouter.gateway.responses import STATELESS, Frames, ResponsesOperation
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.body import read_body, while_connected
from lambdarouter.http.chat import answered_once, streaming
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of
from lambdarouter.store import KeyRecord


def _frames(chunk: Any) -> bytes:
    assert isinstance(chunk, Frames)
    return chunk.body


async def create_response(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(request.headers.get("authorization"))
    raw = await read_body(request)
    try:
        body = ResponsesRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None
    operation = ResponsesOperation(body, raw)
    if body.stream:
        # No `data: [DONE]`: a Responses stream ends with its terminal event, as OpenAI's does.
        return streaming(await while_connected(request, gateway.run_stream(operation, key)), frame=_frames)
    return await answered_once(request, gateway, key, raw, lambda: _answer(gateway, operation, key))


async def _answer(gateway: Gateway, operation: ResponsesOperation, key: KeyRecord) -> Response:
    done = await gateway.run(operation, key)
    return Response(json.dumps(done.answer, ensure_ascii=False), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


async def stored_response(request: Request) -> Response:
    await gateway_of(request).authenticate(request.headers.get("authorization"))
    raise bad_request(f"Responses are not stored, so none can be retrieved or deleted: {STATELESS}.")


ROUTES = [Route("/responses", create_response, methods=["POST"]),
          Route("/responses/{response_id}", stored_response, methods=["GET", "DELETE"])]
