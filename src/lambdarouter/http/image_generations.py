"""POST /images/generations (OpenAI's image API) and POST /images (OpenRouter's), through the gateway's auth,
limits, routing and ledger: one operation, two answer shapes."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.dialects.openrouter.images import ImageGenerationRequest, OpenRouterImageRequest
from lambdarouter.gateway.images import ImageGenerationOperation, openrouter_response, response
from lambdarouter.http.chat import read_body
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of

M = TypeVar("M", bound=BaseModel)


async def _body(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await read_body(request))
    except ValidationError as exc:
        raise validation_error(exc) from None


async def image_generations(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(request.headers.get("authorization"))
    body = await _body(request, ImageGenerationRequest)
    done = await gateway.operate(ImageGenerationOperation(body), key)
    return Response((await response(done, body)).model_dump_json(exclude_none=True), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


async def images(request: Request) -> Response:
    gateway = gateway_of(request)
    key = await gateway.authenticate(request.headers.get("authorization"))
    asked = await _body(request, OpenRouterImageRequest)
    try:
        body = asked.as_generation()
    except ValidationError as exc:  # e.g. a size that is neither WIDTHxHEIGHT nor auto
        raise validation_error(exc) from None
    done = await gateway.operate(ImageGenerationOperation(body), key)
    return Response(openrouter_response(done).model_dump_json(), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


ROUTES = [Route("/images/generations", image_generations, methods=["POST"]),
          Route("/images", images, methods=["POST"])]
