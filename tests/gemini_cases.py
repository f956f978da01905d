"""The Gemini recordings as an OpenAI-format client would have asked for them, and how to read them back.

`CLIENT_REQUESTS` holds, per recorded success, the chat-completions request (minus `model`) that should
make the gateway send the recorded native request; each was derived by hand from the recorded request.
Large payloads (the image's base64, a 15 KB prompt) are read from the recording instead of pasted.
`expected_upstream_body` is the recorded request with the documented normalisations only, and
`recorded_answer` folds the recorded response(s) into what the SDK should parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.genai import types as genai

from tests.fakes.recordings import Recording

Request = dict[str, Any]

SECRET_TOOL = {"type": "function", "function": {
    "name": "secret_retrieval_tool", "description": "A tool that requires a password to retrieve a secret.",
    "parameters": {"properties": {"password": {"title": "Password", "type": "string"}}, "required": ["password"],
                   "type": "object"}}}
SECRET_PROMPT = "Please retrieve the secrets associated with each of these passwords: mellon,radiance"
PRIMES_PROMPT = ("How many primes below 400 contain 79 as a substring? Answer ONLY with the number, not sharing "
                 "which primes they are.")
BOOK_SCHEMA = {
    "description": "A book with a rating. The title should be in all caps!",
    "properties": {
        "title": {"title": "Title", "type": "string"},
        "author": {"description": "The author of a book.", "properties": {
            "first_name": {"title": "First Name", "type": "string"},
            "last_name": {"title": "Last Name", "type": "string"}},
            "required": ["first_name", "last_name"], "title": "Author", "type": "object"},
        "rating": {"description": "For testing purposes, the rating should be 7", "title": "Rating",
                   "type": "integer"},
    },
    "required": ["title", "author", "rating"], "title": "Book", "type": "object",
}


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _first_text(rec: Recording) -> str:
    return str(rec.request["contents"][0]["parts"][0]["text"])


def _image_request(rec: Recording) -> Request:
    image = rec.request["contents"][0]["parts"][1]["inlineData"]
    return {
        # ellmer sent an empty system prompt; the gateway leaves an empty one out (normalisation below).
        "messages": [{"role": "system", "content": ""}, {"role": "user", "content": [
            {"type": "text", "text": _first_text(rec)},
            {"type": "image_url", "image_url": {"url": f"data:{image['mimeType']};base64,{image['data']}"}}]}],
        "temperature": 0, "seed": 1014,
    }


def _followup_request(rec: Recording) -> Request:
    model_turn = rec.request["contents"][1]["parts"]
    signature = model_turn[0]["thoughtSignature"]  # sent back exactly as the client holds it
    return {
        "messages": [
            {"role": "system", "content": "Use parallel tool calling."},
            {"role": "user", "content": SECRET_PROMPT},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "secret_retrieval_tool", "arguments": '{"password": "mellon"}'}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "secret_retrieval_tool", "arguments": '{"password": "radiance"}'}}],
             "reasoning_details": [{"type": "reasoning.encrypted", "data": signature, "id": "call_a",
                                    "format": "google-gemini-v1", "index": 0}]},
            # JSON-object results go to functionResponse.response as they are.
            {"role": "tool", "tool_call_id": "call_a", "content": '{"output": "Welcome to Moria!"}'},
            {"role": "tool", "tool_call_id": "call_b", "content": '{"output": "Life before Death"}'},
        ],
        "tools": [SECRET_TOOL],
    }


CLIENT_REQUESTS: dict[str, Callable[[Recording], Request]] = {
    "gemini/text-basic": lambda rec: {"messages": _user("What is 4200 + 42?")},
    "gemini/text-stream": lambda rec: {"messages": _user("What is 4200 + 42?"), "stream": True},
    "gemini/image-input-base64": _image_request,
    "gemini/structured-output-response-schema": lambda rec: {
        "messages": _user("Please recommend the most popular book by Patrick Rothfuss"),
        "response_format": {"type": "json_schema", "json_schema": {"name": "Book", "schema": BOOK_SCHEMA,
                                                                   "strict": True}}},
    "gemini/thinking-include-thoughts": lambda rec: {
        "messages": _user(PRIMES_PROMPT), "extra_body": {"reasoning": {"max_tokens": 6400}}},
    "gemini/thinking-include-thoughts-stream": lambda rec: {
        "messages": _user(PRIMES_PROMPT), "extra_body": {"reasoning": {"max_tokens": 6400}}, "stream": True},
    "gemini/tool-call-parallel": lambda rec: {
        "messages": [{"role": "system", "content": "Use parallel tool calling."}, *_user(SECRET_PROMPT)],
        "tools": [SECRET_TOOL]},
    "gemini/tool-call-parallel-stream": lambda rec: {
        "messages": [{"role": "system", "content": "Use parallel tool calling."}, *_user(SECRET_PROMPT)],
        "tools": [SECRET_TOOL], "stream": True},
    "gemini/tool-call-stream-gemini3-thought-signature": lambda rec: {
        "messages": _user("What is the capital of the user country? Call the tool"), "modalities": ["text"],
        "tools": [{"type": "function", "function": {"name": "get_country", "description": "", "parameters": {
            "additionalProperties": False, "properties": {}, "type": "object"}}}],
        "stream": True},
    "gemini/tool-result-followup": _followup_request,
    "gemini/usage-cached-content-tokens": lambda rec: {"messages": _user(_first_text(rec))},
    # Recorded without alt=sse (a JSON array); the gateway asks for SSE but also reads the array form.
    "gemini/stream-json-array-no-sse": lambda rec: {
        "messages": _user("Name for a pet pelican, just the name"), "extra_body": {"reasoning": {"enabled": True}},
        "stream": True},
}

# Keys whose values are user data (function arguments and results): never renamed. Under `properties` and
# `$defs` the names are data too, but the schemas they name are not.
_DATA_KEYS = frozenset({"args", "response"})
_NAMED_SCHEMAS = frozenset({"properties", "$defs"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _camel_keys(value: Any) -> Any:
    """The Python SDK writes proto field names (include_thoughts); the gateway the lowerCamel JSON names
    Gemini documents. The API accepts both (proto3 JSON mapping)."""
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _DATA_KEYS:
            out[_camel(key)] = item
        elif key in _NAMED_SCHEMAS and isinstance(item, dict):
            out[key] = {name: _camel_keys(sub) for name, sub in item.items()}
        else:
            out[_camel(key)] = _camel_keys(item)
    return out


def _json_schema(schema: Any) -> Any:
    """An OpenAPI-subset Schema as the Python SDK writes it → the JSON Schema the client gave: lower-case
    type names, no SDK-added propertyOrdering."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "propertyOrdering":
            continue
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "properties":
            out[key] = {name: _json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = _json_schema(value)
    return out


def expected_upstream_body(recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded request as the gateway should send it; every difference is one of these:

    1. key spelling: snake_case proto names → lowerCamel JSON names (both accepted by the API);
    2. schemas: `parameters` / `responseSchema` (OpenAPI subset, written by the Python SDK from a JSON schema)
       → `parametersJsonSchema` / `responseJsonSchema` holding that JSON schema;
    3. `systemInstruction`: no `role` (the API ignores it), `parts` always a list, left out when empty;
       an empty `generationConfig` is left out;
    4. `safetySettings` dropped: the chat-completions format has no field for them.
    """
    body: dict[str, Any] = _camel_keys(recorded)
    body.pop("safetySettings", None)
    system = body.pop("systemInstruction", None)
    if system is not None:
        parts = system["parts"] if isinstance(system["parts"], list) else [system["parts"]]
        parts = [p for p in parts if p.get("text")]
        if parts:
            body["systemInstruction"] = {"parts": parts}
    for tool in body.get("tools", ()):
        for declaration in tool.get("functionDeclarations", ()):
            if "parameters" in declaration:
                declaration["parametersJsonSchema"] = _json_schema(declaration.pop("parameters"))
    generation = body.pop("generationConfig", None) or {}
    if "responseSchema" in generation:
        generation["responseJsonSchema"] = _json_schema(generation.pop("responseSchema"))
    if generation:
        body["generationConfig"] = generation
    return body


@dataclass
class Answer:
    """What a recorded Gemini response says, folded like a chat completion."""

    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    finish: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


def response_objects(rec: Recording) -> list[dict[str, Any]]:
    """The GenerateContentResponse objects of a recording: one, one per SSE event, or the JSON array."""
    if rec.is_sse:
        return [json.loads(m) for m in re.findall(r"^data: (.*)$", rec.body_bytes().decode(), re.MULTILINE)]
    body = json.loads(rec.body_bytes())
    return body if isinstance(body, list) else [body]


def recorded_answer(rec: Recording) -> Answer:
    answer = Answer()
    for obj in response_objects(rec):
        for part in ((obj.get("candidates") or [{}])[0].get("content") or {}).get("parts") or ():
            if "functionCall" in part:
                answer.calls.append((part["functionCall"]["name"], part["functionCall"].get("args") or {}))
            elif part.get("thought"):
                answer.reasoning += part.get("text", "")
            else:
                answer.text += part.get("text", "")
            if "thoughtSignature" in part:
                answer.signatures.append(part["thoughtSignature"])
        answer.finish = (obj.get("candidates") or [{}])[0].get("finishReason") or answer.finish
        answer.usage = obj.get("usageMetadata") or answer.usage
    return answer


# The google-genai SDK's own types for each top-level field of a generateContent body; they forbid unknown
# fields, so a misspelt or misplaced field fails here rather than at Google.
SDK_TYPES: dict[str, Callable[[Any], Any]] = {
    "contents": lambda v: [genai.Content.model_validate(c) for c in v],
    "systemInstruction": genai.Content.model_validate,
    "tools": lambda v: [genai.Tool.model_validate(t) for t in v],
    "toolConfig": genai.ToolConfig.model_validate,
    "generationConfig": genai.GenerationConfig.model_validate,
}


def validate_with_sdk(body: dict[str, Any]) -> None:
    assert set(body) <= set(SDK_TYPES), set(body) - set(SDK_TYPES)
    for key, value in body.items():
        SDK_TYPES[key](value)
