"""POST /images/generations (OpenAI's image API) and POST /images (OpenRouter's), through the gateway's auth,
limits, routing and ledger: one operation each, differing only in the answer's shape."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.dialects.openrouter.images import ImageGenerationRequest, OpenRouterImageRequest
from lambdarouter.gateway.images import ImageGenerationOperation, ImagesOperation, OpenRouterImagesOperation
from lambdarouter.http.body import read_body, while_connected
from lambdarouter.http.errors import validation_error
from lambdarouter.http.state import gateway_of
from lambdarouter.store import KeyRecord

M = TypeVar("M", bound=BaseModel)


async def _body(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await read_body(request))
    except ValidationError as exc:
        raise validation_error(exc) from None


async def _answer(request: Request, key: KeyRecord, operation: ImagesOperation[Any], exclude_none: bool) -> Response:
    done = await while_connected(request, gateway_of(request).run(operation, key))
    return Response(done.answer.model_dump_json(exclude_none=exclude_none), media_type="application/json",
                    headers={**done.headers, "x-generation-id": done.id})


async def image_generations(request: Request) -> Response:
    key = await gateway_of(request).authenticate(request.headers.get("authorization"))  # a 401 before a 400
    body = await _body(request, ImageGenerationRequest)
    return await _answer(request, key, ImageGenerationOperation(body), exclude_none=True)


async def images(request: Request) -> Response:
    key = await gateway_of(request).authenticate(request.headers.get("authorization"))
    asked = await _body(request, OpenRouterImageRequest)
    try:
        body = asked.as_generation()
    except ValidationError as exc:  # e.g. a size that is neither WIDTHxHEIGHT nor auto
        raise validation_error(exc) from None
    return await _answer(request, key, OpenRouterImagesOperation(body), exclude_none=False)


ROUTES = [Route("/images/generations", image_generations, methods=["POST"]),
          Route("/images", images, methods=["POST"])]
