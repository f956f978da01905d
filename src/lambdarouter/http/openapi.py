"""The OpenAPI 3.1 document GET /openapi.json serves (http/openapi_route.py), generated from the wire-format
schemas: imported by that route's first GET, never at a function's start (it imports every dialect's schemas)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from lambdarouter import __version__
from lambdarouter.dialects.anthropic.answer import AnthropicError, MessageAnswer, MessageStreamEvent, TokenCount
from lambdarouter.dialects.anthropic.request import CountTokensRequest, MessagesRequest
from lambdarouter.dialects.openrouter.answer_schema import ChatCompletion, ChatCompletionChunk
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.completions import CompletionRequest, TextCompletion
from lambdarouter.dialects.openrouter.embeddings import EmbeddingRequest, EmbeddingResponse
from lambdarouter.dialects.openrouter.errors import ErrorResponse
from lambdarouter.dialects.openrouter.images import (
    ImageGenerationRequest,
    ImageGenerationResponse,
    OpenRouterImageRequest,
    OpenRouterImageResponse,
)
from lambdarouter.dialects.openrouter.models import (
    EndpointsResponse,
    ModelList,
    ModelResponse,
    ModelsCountResponse,
    OpenAIModel,
    ProvidersResponse,
)
from lambdarouter.dialects.responses.request import ResponsesRequest
from lambdarouter.http import dashboard, usage
from lambdarouter.http.control import MAX_QUERY_INT

PREFIXES = ("/api/v1", "/v1")
ERROR_STATUSES = {
    "400": "Bad request or unknown model", "401": "Missing or invalid key", "402": "Out of credit",
    "404": "No endpoint can serve the request", "408": "Timed out", "413": "Request too large",
    "429": "Rate limited", "502": "Upstream error", "503": "No provider meets the requirements",
    "403": "Not allowed for this key", "409": "A request with this Idempotency-Key is in progress",
    "422": "Idempotency-Key reused with another body",
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}
RATE_LIMIT: dict[str, Any] = {"type": "object", "properties": {"requests": {"type": "integer"},
                                                               "interval": {"type": "string"},
                                                               "note": {"type": "string"}}}
# Spend per current UTC day / week / month; no BYOK here: the byok_ fields are 0.
SPEND: dict[str, Any] = {
    **{f"{prefix}{period}": {"type": "number"} for prefix in ("usage_", "byok_usage_")
       for period in ("daily", "weekly", "monthly")},
    "usage": {"type": "number"}, "byok_usage": {"type": "number"}, "include_byok_in_limit": {"type": "boolean"},
}
KEY: dict[str, Any] = {"type": "object", "properties": {
    "hash": {"type": "string"}, "name": {"type": "string"}, "label": {"type": "string"},
    "disabled": {"type": "boolean"}, "limit": _NUMBER_OR_NULL, "limit_remaining": _NUMBER_OR_NULL,
    "limit_reset": {"enum": ["daily", "weekly", "monthly", None]}, **SPEND,
    "created_at": {"type": "string"}, "updated_at": _STRING_OR_NULL, "expires_at": _STRING_OR_NULL,
    "creator_user_id": {"type": "null"}, "workspace_id": {"type": "string"},
    "rate_limit": RATE_LIMIT, "allowed_models": {"type": ["array", "null"], "items": {"type": "string"}},
}}
# GET /key: OpenRouter's current-key shape.
CURRENT_KEY: dict[str, Any] = {"type": "object", "properties": {
    **{k: v for k, v in KEY["properties"].items() if k not in ("hash", "disabled", "workspace_id")},
    "is_free_tier": {"type": "boolean"}, "is_provisioning_key": {"type": "boolean"},
    "is_management_key": {"type": "boolean"},
}}
KEY_BODY = {"type": "object", "properties": {
    "name": {"type": "string"}, "label": {"type": "string"}, "disabled": {"type": "boolean"},
    "limit": _NUMBER_OR_NULL, "limit_reset": {"enum": ["daily", "weekly", "monthly", "none", None]},
    "expires_at": {"type": ["string", "null"], "format": "date-time"},
    "rate_limit": {"type": ["object", "null"], "properties": RATE_LIMIT["properties"]},
    "allowed_models": {"type": ["array", "null"], "items": {"type": "string"}},
}}
GENERATION = {"type": "object", "properties": {
    name: {"type": kind} for name, kind in (
        ("id", "string"), ("total_cost", "number"), ("created_at", "string"), ("model", "string"),
        ("streamed", "boolean"), ("cancelled", "boolean"), ("latency", "integer"), ("tokens_prompt", "integer"),
        ("tokens_completion", "integer"), ("num_media_prompt", "integer"), ("num_media_completion", "integer"),
        ("provider_responses", "array"), ("upstream_id", ["string", "null"]), ("provider_name", ["string", "null"]),
        ("finish_reason", ["string", "null"]), ("native_finish_reason", ["string", "null"]),
        ("generation_time", ["integer", "null"]), ("data_region", "string"), ("status", "string"),
        ("usage_estimated", "boolean"))
}}

# OpenAI's `response` object (https://platform.openai.com/docs/api-reference/responses/object), as much as a
# client relies on; `usage.cost` is OpenRouter's. Each streamed event is `event: <type>` + `data: <event>`.
_OBJECT = {"type": "object"}
RESPONSE: dict[str, Any] = {"type": "object", "required": ["id", "object", "created_at", "status", "model", "output"],
                            "properties": {
    "id": {"type": "string"}, "object": {"const": "response"}, "created_at": {"type": "number"},
    "status": {"enum": ["completed", "incomplete", "failed", "in_progress"]}, "model": {"type": "string"},
    "output": {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string"}, "id": {"type": "string"}}}},
    "output_text": {"type": "string"}, "error": {"type": ["object", "null"]},
    "incomplete_details": {"type": ["object", "null"]},
    "usage": {"type": ["object", "null"], "properties": {
        name: {"type": "integer"} for name in ("input_tokens", "output_tokens", "total_tokens")} | {
        "input_tokens_details": _OBJECT, "output_tokens_details": _OBJECT, "cost": {"type": "number"}}},
}}
RESPONSE_EVENT: dict[str, Any] = {"type": "object", "required": ["type", "sequence_number"], "properties": {
    "type": {"type": "string"}, "sequence_number": {"type": "integer"}, "response": RESPONSE}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(ErrorResponse, ERROR_STATUSES[code]) for code in codes}


# Admin routes tell a valid gateway key (403: a credential, for other routes) from any other token (401), so a
# caller learns nothing about a string that is not a working key (auth.require_admin).
ADMIN_STATUSES = {"401": "Missing or invalid key: neither the management key nor a working gateway key",
                  "403": "A valid gateway key: this route needs the management key"}


def _admin_errors(*codes: str) -> dict[str, Any]:
    return {code: _json(ErrorResponse, ADMIN_STATUSES.get(code, ERROR_STATUSES[code])) for code in codes}


def _data(schema: dict[str, Any], description: str = "OK", **extra: Any) -> dict[str, Any]:
    body = {"type": "object", "properties": {"data": schema, **extra}}
    return {"description": description, "content": {"application/json": {"schema": body}}}


# /messages answers errors as Anthropic does (dialects/anthropic/errors.py): its statuses, its error body.
ANTHROPIC_STATUSES = {
    "400": "invalid_request_error: bad request", "401": "authentication_error: missing or invalid key",
    "402": "billing_error: out of credit", "403": "permission_error: model not allowed for this key",
    "404": "not_found_error: unknown model, or no endpoint can serve it",
    "409": "invalid_request_error: a request with this Idempotency-Key is in progress",
    "413": "request_too_large", "422": "invalid_request_error: Idempotency-Key reused with another body",
    "429": "rate_limit_error", "500": "api_error: the provider failed", "504": "timeout_error",
    "529": "overloaded_error: the provider (or the gateway's store) is overloaded; retry",
}
MESSAGES_SECURITY: list[dict[str, list[str]]] = [{"x-api-key": []}, {"bearer": []}]


# Non-streamed answers of the inference routes replay under this header (gateway/idempotency.py).
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 255},
    "description": "Non-streamed only: replay the first answer for 24 h, charged once"}


def _anthropic_errors(*codes: str) -> dict[str, Any]:
    return {code: _json(AnthropicError, ANTHROPIC_STATUSES[code]) for code in codes}


def responses_operations() -> dict[str, dict[str, Any]]:
    return {
        "/responses": {"post": {
            "operationId": "createResponse", "security": [{"bearer": []}],
            "description": "OpenAI's Responses API: natively on OpenAI's models, translated on every other. "
                           "Stateless: nothing is stored (previous_response_id is a 400).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(ResponsesRequest)}}},
            "parameters": [IDEMPOTENCY_KEY],
            "responses": {"200": {"description": "A response, or with `stream: true` its events, numbered, ending "
                                                 "with response.completed, response.incomplete or response.failed",
                                  "content": {"application/json": {"schema": RESPONSE},
                                              "text/event-stream": {"schema": RESPONSE_EVENT}}},
                          **_errors("400", "401", "402", "403", "404", "408", "409", "413", "422", "429", "502",
                                    "503")},
        }},
        "/responses/{response_id}": {verb: {
            "operationId": f"{verb}Response", "security": [{"bearer": []}],
            "description": "Always a 400: no response is stored (the Responses API here is stateless).",
            "parameters": [{"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": _errors("400", "401"),
        } for verb in ("get", "delete")},
    }


def messages_operations() -> dict[str, dict[str, Any]]:
    body = {"required": True, "content": {"application/json": {"schema": _ref(MessagesRequest)}}}
    answered = {"description": "A message, or with `stream: true` Anthropic's event stream (`event:` names)",
                "content": {"application/json": {"schema": _ref(MessageAnswer)},
                            "text/event-stream": {"schema": _ref(MessageStreamEvent)}}}
    return {
        "/messages": {"post": {
            "operationId": "createMessage", "security": MESSAGES_SECURITY, "requestBody": body,
            "parameters": [{"name": "anthropic-beta", "in": "header", "schema": {"type": "string"},
                            "description": "Forwarded to Anthropic's API and (those Bedrock takes) to Bedrock"},
                           IDEMPOTENCY_KEY],
            "responses": {"200": answered, **_anthropic_errors("400", "401", "402", "403", "404", "409", "413", "422",
                                                               "429", "500", "504", "529")},
        }},
        "/messages/count_tokens": {"post": {
            "operationId": "countMessageTokens", "security": MESSAGES_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(CountTokensRequest)}}},
            "responses": {"200": {**_json(TokenCount, "Counted by the provider, or estimated (`x-token-count`)")},
                          **_anthropic_errors("400", "401", "403", "404", "413", "500", "504", "529")},
        }},
    }


def control_operations() -> dict[str, dict[str, Any]]:
    admin: list[dict[str, list[str]]] = [{"admin": []}]
    key_path = [{"name": "hash", "in": "path", "required": True, "schema": {"type": "string"}}]
    key_body = {"required": True, "content": {"application/json": {"schema": KEY_BODY}}}
    return {
        "/keys": {
            "get": {"operationId": "listKeys", "security": admin, "parameters": [
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                              "maximum": MAX_QUERY_INT}},
                {"name": "include_disabled", "in": "query", "schema": {"type": "boolean"}}],
                "responses": {"200": _data({"type": "array", "items": KEY}), **_admin_errors("400", "401", "403")}},
            "post": {"operationId": "createKey", "security": admin, "requestBody": key_body,
                     "responses": {"201": _data(KEY, "Created; `key` is the plaintext, shown only here",
                                                key={"type": "string"}), **_admin_errors("400", "401", "403")}},
        },
        "/keys/{hash}": {
            "get": {"operationId": "getKey", "security": admin, "parameters": key_path,
                    "responses": {"200": _data(KEY), **_admin_errors("401", "403", "404")}},
            "patch": {"operationId": "updateKey", "security": admin, "parameters": key_path, "requestBody": key_body,
                      "responses": {"200": _data(KEY), **_admin_errors("400", "401", "403", "404")}},
            "delete": {"operationId": "deleteKey", "security": admin, "parameters": key_path, "responses": {
                "200": {"description": "Deleted", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"deleted": {"const": True}}}}}},
                **_admin_errors("401", "403", "404")}},
        },
        "/credits": {"get": {"operationId": "getCredits", "security": admin, "responses": {"200": _data({
            "type": "object", "properties": {"total_credits": {"type": "number"}, "total_usage": {"type": "number"}}}),
            **_admin_errors("401", "403")}}},
        "/key": {"get": {"operationId": "getCurrentKey", "security": [{"bearer": []}], "responses": {
            "200": _data(CURRENT_KEY), **_errors("401")}}},
        "/generation": {"get": {"operationId": "getGeneration", "security": [{"bearer": []}], "parameters": [
            {"name": "id", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _data(GENERATION), **_errors("400", "401", "404")}}},
    }


def catalog_operations() -> dict[str, dict[str, Any]]:
    model_path = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in ("author", "slug")]
    output = [{"name": "output_modalities", "in": "query", "schema": {"type": "string"},
               "description": "Comma-separated output modalities (text, image, embeddings, ...) or `all`; "
                              "default text"}]
    return {
        "/models": {"get": {"operationId": "listModels", "parameters": output,
                            "responses": {"200": _json(ModelList), **_errors("400")}}},
        "/models/count": {"get": {"operationId": "listModelsCount", "parameters": output,
                                  "responses": {"200": _json(ModelsCountResponse), **_errors("400")}}},
        "/model/{author}/{slug}": {"get": {"operationId": "getModel", "parameters": model_path,
                                           "responses": {"200": _json(ModelResponse), **_errors("404")}}},
        "/models/{author}/{slug}": {"get": {
            "operationId": "retrieveModel", "parameters": model_path,
            "description": "The `openai` SDKs' models.retrieve: OpenRouter's Model plus `object` and `owned_by`",
            "responses": {"200": _json(OpenAIModel), **_errors("404")}}},
        "/models/{author}/{slug}/endpoints": {"get": {
            "operationId": "listModelEndpoints", "parameters": model_path,
            "responses": {"200": _json(EndpointsResponse), **_errors("404")},
        }},
        "/providers": {"get": {"operationId": "listProviders", "responses": {"200": _json(ProvidersResponse)}}},
    }


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
            "parameters": [IDEMPOTENCY_KEY],
            "responses": {"200": chat_ok, **_errors("400", "401", "402", "403", "404", "408", "409", "413", "422",
                                                    "429", "502", "503")},
        }},
        **responses_operations(),
        "/embeddings": {"post": {
            "operationId": "createEmbeddings", "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(EmbeddingRequest)}}},
            "responses": {"200": _json(EmbeddingResponse), **_errors("400", "401", "402", "403", "404", "408", "413",
                                                                     "429", "502", "503")},
        }},
        "/images": {"post": {
            "operationId": "createImages", "security": [{"bearer": []}],
            "description": "OpenRouter's image API: always base64, with each image's media type",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref(OpenRouterImageRequest)}}},
            "responses": {"200": _json(OpenRouterImageResponse),
                          **_errors("400", "401", "402", "403", "404", "408", "413", "429", "502", "503")},
        }},
        "/images/generations": {"post": {
            "operationId": "createImage", "security": [{"bearer": []}],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref(ImageGenerationRequest)}}},
            "responses": {"200": _json(ImageGenerationResponse),
                          **_errors("400", "401", "402", "403", "404", "408", "413", "429", "502", "503")},
        }},
        "/completions": {"post": {
            "operationId": "createCompletion", "security": [{"bearer": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(CompletionRequest)}}},
            "responses": {"200": {"description": "A text completion, or with `stream: true` a stream of them",
                                  "content": {"application/json": {"schema": _ref(TextCompletion)},
                                              "text/event-stream": {"schema": _ref(TextCompletion)}}},
                          **_errors("400", "401", "402", "403", "404", "408", "413", "429", "502", "503")},
        }},
        **messages_operations(),
        **control_operations(),
        **catalog_operations(),
        "/health": {"get": {"operationId": "health", "responses": {"200": {
            "description": "Alive", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        "/openapi.json": {"get": {"operationId": "openapi", "responses": {"200": {
            "description": "This document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        **usage.OPERATIONS,
        **dashboard.OPERATIONS,
    }


@cache
def document() -> bytes:
    models: list[type[BaseModel]] = [ChatCompletionRequest, ChatCompletion, ChatCompletionChunk, ErrorResponse,
                                     ModelList, EndpointsResponse, EmbeddingRequest, EmbeddingResponse,
                                     CompletionRequest, TextCompletion, ImageGenerationRequest,
                                     ImageGenerationResponse, OpenRouterImageRequest, OpenRouterImageResponse,
                                     ModelResponse, OpenAIModel, ModelsCountResponse, ProvidersResponse,
                                     MessagesRequest, CountTokensRequest, MessageAnswer, MessageStreamEvent,
                                     TokenCount, AnthropicError,
                                     ResponsesRequest]
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
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "x-api-key": {"type": "apiKey", "in": "header", "name": "x-api-key",
                                                         "description": "A gateway key, as Anthropic's SDKs send it"},
                                           "admin": {"type": "http", "scheme": "bearer",
                                                     "description": "The management key (LAMBDAROUTER_ADMIN_KEY); "
                                                                    "a working gateway key is 403, other tokens 401"}}},
    }
    return json.dumps(doc).encode()
