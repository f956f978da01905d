"""POST /embeddings: OpenAI's embeddings API through the gateway's auth, limits, routing and ledger."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.dialects.openrouter.embeddings import EmbeddingRequest
from lambdarouter.gateway.embeddings import EmbeddingOperation
from lambdarouter.http.body import read_body, while_connected
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of


async def embeddings(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(request.headers.get("authorization"))
    try:
        body = EmbeddingRequest.model_validate_json(await read_body(request))
    except ValidationError as exc:
        raise validation_error(exc) from None
    done = await while_connected(request, gateway.run(EmbeddingOperation(body), key))
    return Response(done.answer.model_dump_json(), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


ROUTES = [Route("/embeddings", embeddings, methods=["POST"])]
