"""GET /openapi.json: an OpenAPI 3.1 document generated from the wire-format schemas."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter import __version__
from lambdarouter.schemas.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from lambdarouter.schemas.errors import ErrorResponse
from lambdarouter.schemas.models import EndpointsResponse, ModelList

PREFIXES = ("/api/v1", "/v1")
ERROR_STATUSES = {
    "400": "Bad request or unknown model", "401": "Missing or invalid key", "402": "Out of credit",
    "404": "No endpoint can serve the request", "408": "Timed out", "413": "Request too large",
    "429": "Rate limited", "502": "Upstream error", "503": "No provider meets the requirements",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(ErrorResponse, ERROR_STATUSES[code]) for code in codes}


def operations() -> dict[str, dict[str, Any]]:
    chat_ok = {
        "description": "A completion, or with `stream: true` a stream of chunks then `data: [DONE]`",
        "content": {"application/json": {"schema": _ref(ChatCompletion)},
                    "text/event-stream": {"schema": _ref(ChatCompletionChunk)}},
    }
    return {
        "/chat/completions": {"post": {
            "operationId": "createChatCompletion", "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(ChatCompletionRequest)}}},
            "responses": {"200": chat_ok, **_errors("400", "401", "402", "404", "408", "413", "429", "502", "503")},
        }},
        "/models": {"get": {"operationId": "listModels", "responses": {"200": _json(ModelList)}}},
        "/models/{author}/{slug}/endpoints": {"get": {
            "operationId": "listModelEndpoints",
            "parameters": [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                           for n in ("author", "slug")],
            "responses": {"200": _json(EndpointsResponse), **_errors("404")},
        }},
        "/health": {"get": {"operationId": "health", "responses": {"200": {
            "description": "Alive", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/openapi.json": {"get": {"operationId": "openapi", "responses": {"200": {
            "description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    }


@cache
def document() -> bytes:
    models: list[type[BaseModel]] = [ChatCompletionRequest, ChatCompletion, ChatCompletionChunk, ErrorResponse,
                                     ModelList, EndpointsResponse]
    _, schemas = models_json_schema([(m, "validation") for m in models],
                                    ref_template="#/components/schemas/{model}")
    paths = {prefix + path: {verb: {**op, "operationId": f"{op['operationId']}{'V1' if prefix == '/v1' else ''}"}
                             for verb, op in item.items()}
             for prefix in PREFIXES for path, item in operations().items()}
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "lambdarouter", "version": __version__,
                 "description": "OpenRouter-compatible API for AI models."},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    return json.dumps(doc).encode()


async def openapi(_: Request) -> Response:
    return Response(document(), media_type="application/json")


ROUTES = [Route("/openapi.json", openapi, methods=["GET"])]
