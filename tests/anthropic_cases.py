"""Fixtures for the Anthropic adapter tests: the OpenAI-format request a client would send for each recorded
exchange, an independent reader of recorded Anthropic answers, SSE builders for synthesized streams, and
validation of what the gateway sends with the `anthropic` SDK's own request types.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from tests.fakes.recordings import Recording
from tests.gateway import UPSTREAM_KEY

UPSTREAM_PATH = "/v1/messages"
SIGNED = "anthropic-claude-v1"

# Fields the Messages API (version 2023-06-01) accepts that anthropic>=1.0 dropped from its request types:
# the SDK removed temperature/top_p/top_k from `messages.create` (they go through `extra_body`), the API
# still takes them on models that support sampling.
SDK_REMOVED_FIELDS = frozenset({"temperature", "top_p", "top_k"})


# --- the OpenAI-format requests, derived by hand from each recorded Anthropic request -------------------

SECRETS_SYSTEM = [{"type": "text", "text": "Use parallel tool calling.", "cache_control": {"type": "ephemeral"}}]
SECRETS_TOOLS: list[Any] = [{
    "type": "function",
    "function": {
        "name": "secret_retrieval_tool",
        "description": "A tool that requires a password to retrieve a secret.",
        "parameters": {"properties": {"password": {"title": "Password", "type": "string"}},
                       "required": ["password"], "additionalProperties": False, "type": "object"},
    },
    "cache_control": {"type": "ephemeral"},  # Anthropic prompt caching on the tool definition
}]
SECRETS_ASK = "Please retrieve the secrets associated with each of these passwords: mellon,radiance"
BOOK_SCHEMA = {
    "$defs": {"Author": {
        "type": "object", "description": "The author of a book.", "title": "Author",
        "properties": {"first_name": {"type": "string", "title": "First Name"},
                       "last_name": {"type": "string", "title": "Last Name"}},
        "additionalProperties": False, "required": ["first_name", "last_name"]}},
    "type": "object", "description": "A book with a rating. The title should be in all caps!", "title": "Book",
    "properties": {"title": {"type": "string", "title": "Title"}, "author": {"$ref": "#/$defs/Author"},
                   "rating": {"type": "integer", "description": "For testing purposes, the rating should be 7",
                              "title": "Rating"}},
    "additionalProperties": False, "required": ["title", "author", "rating"],
}
IMAGE_QUESTION = "What's in this image? (Be sure to mention the outside shape)"


def _image(url: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [
        {"type": "text", "text": IMAGE_QUESTION},
        {"type": "image_url", "image_url": {"url": url}, "cache_control": {"type": "ephemeral", "ttl": "5m"}},
    ]}]


def _recorded_image_data_url(rec: Recording) -> str:
    source = rec.request["messages"][0]["content"][1]["source"]
    return f"data:{source['media_type']};base64,{source['data']}"


def _cached_system(rec: Recording) -> list[dict[str, Any]]:
    # The 15,000-character system prompt is long enough to be cached; it is read from the recording.
    return [{"role": "system", "content": [{"type": "text", "text": rec.request["system"][0]["text"],
                                            "cache_control": {"type": "ephemeral"}}]}]


def _followup(calls: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The secrets conversation after the model called the tool twice (ids as the recording has them)."""
    return [
        {"role": "system", "content": SECRETS_SYSTEM},
        {"role": "user", "content": SECRETS_ASK},
        {"role": "assistant", "content": "I'll retrieve the secrets for both passwords you provided.",
         "tool_calls": [{"id": call_id, "type": "function", "function": {
             "name": "secret_retrieval_tool", "arguments": json.dumps({"password": password})}}
             for call_id, password in calls]},
        {"role": "tool", "tool_call_id": calls[0][0], "content": "Welcome to Moria!"},
        # A message-level cache_control marks the tool_result block itself.
        {"role": "tool", "tool_call_id": calls[1][0], "content": "Life before Death",
         "cache_control": {"type": "ephemeral"}},
    ]


Case = Callable[[Recording], dict[str, Any]]
OPENAI_REQUESTS: dict[str, Case] = {
    "anthropic/image-input-base64": lambda rec: {
        "model": "anthropic/claude-sonnet-5", "max_tokens": 4096, "messages": _image(_recorded_image_data_url(rec))},
    "anthropic/image-input-url": lambda rec: {
        "model": "anthropic/claude-sonnet-5", "max_tokens": 4096, "messages": _image("https://httr2.r-lib.org/logo.png")},
    "anthropic/stop-reason-max-tokens": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 50,
        "messages": [{"role": "user", "content": "List all U.S. states."}]},
    "anthropic/structured-output-json-schema": lambda rec: {
        "model": "anthropic/claude-sonnet-4-5", "max_tokens": 16000,
        "messages": [{"role": "user", "content": "Please recommend the most popular book by Patrick Rothfuss"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Book", "schema": BOOK_SCHEMA,
                                                                   "strict": True}}},
    "anthropic/text-basic": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 16000,
        "messages": [{"role": "user", "content": "What is 4200 + 42?"}]},
    "anthropic/thinking": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 16000, "reasoning": {"max_tokens": 6400},
        "messages": [{"role": "user", "content": "How many primes below 400 contain 79 as a substring? "
                                                 "Answer ONLY with the number, not sharing which primes they are."}]},
    "anthropic/tool-call-parallel": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 16000, "tools": SECRETS_TOOLS,
        "messages": [{"role": "system", "content": SECRETS_SYSTEM}, {"role": "user", "content": SECRETS_ASK}]},
    "anthropic/tool-result-followup": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 16000, "tools": SECRETS_TOOLS,
        "messages": _followup([("toolu_01BUvqBj8Yb34pNAbCJJY1oc", "mellon"),
                               ("toolu_01VPuQJ1LonDBYXrr8pqPkqQ", "radiance")])},
    "anthropic/tool-result-followup-stream": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 16000, "tools": SECRETS_TOOLS,
        "messages": _followup([("toolu_015cUijgET79LXjgeYQerN2h", "mellon"),
                               ("toolu_01XZTimPexA7h3EVKesnKt5T", "radiance")])},
    "anthropic/usage-cache-creation": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 16000,
        "messages": [*_cached_system(rec), {"role": "user", "content": "Hello there."}]},
    "anthropic/usage-cache-read": lambda rec: {
        "model": "anthropic/claude-sonnet-4-0", "max_tokens": 16000,
        "messages": [*_cached_system(rec), {"role": "user", "content": "What should I have for breakfast?"}]},
}
# The streamed twins of recorded exchanges send the same request with stream=true.
for _name in ("structured-output-json-schema", "text", "thinking", "tool-call-parallel"):
    _base = f"anthropic/{_name}" if _name != "text" else "anthropic/text-basic"
    OPENAI_REQUESTS[f"anthropic/{_name}-stream"] = OPENAI_REQUESTS[_base]


def openai_request(rec: Recording) -> dict[str, Any]:
    request = OPENAI_REQUESTS[rec.name](rec)
    return {**request, "stream": True} if rec.request.get("stream") else request


OPENROUTER_FIELDS = ("reasoning", "models", "provider")


def sdk_kwargs(request: dict[str, Any]) -> dict[str, Any]:
    """The request as `client.chat.completions.create(**kwargs)` takes it: OpenRouter fields in extra_body."""
    kwargs = {k: v for k, v in request.items() if k not in OPENROUTER_FIELDS}
    extra = {k: request[k] for k in OPENROUTER_FIELDS if k in request}
    return {**kwargs, "extra_body": extra} if extra else kwargs


# --- what the gateway must send ---------------------------------------------------------------------------

def drop_nulls(value: Any) -> Any:
    """The recorded SDKs serialise unset optionals as null (`citations`, `cache_control`); the API reads
    null as absent, and the gateway leaves them out."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def expected_upstream_body(recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded request as the gateway sends it, after the documented normalisations only:

    - nulls dropped (see `drop_nulls`);
    - `stream` always stated;
    - structured outputs in their GA form: the beta `output_format` (with the `structured-outputs-2025-11-13`
      header and `?beta=true`) is now `output_config.format`, no header
      (https://platform.claude.com/docs/en/build-with-claude/structured-outputs, "Migrating from beta").
    """
    body: dict[str, Any] = drop_nulls(recorded)
    body["stream"] = bool(body.get("stream"))
    if "output_format" in body:
        body["output_config"] = {"format": body.pop("output_format")}
    return body


def _materialized(value: Any) -> Any:
    """pydantic validates `Iterable[...]` TypedDict fields lazily: consume them so every item is checked."""
    if isinstance(value, dict):
        return {k: _materialized(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Iterable):
        return [_materialized(v) for v in value]
    return value


@functools.cache
def _request_types(stream: bool) -> TypeAdapter[Any]:
    # Kept alive: the lazily validated iterables refer to the adapter's definitions while they are consumed.
    from anthropic.types.message_create_params import (
        MessageCreateParamsNonStreaming,
        MessageCreateParamsStreaming,
    )

    return TypeAdapter(MessageCreateParamsStreaming if stream else MessageCreateParamsNonStreaming)


def assert_valid_anthropic_request(body: dict[str, Any]) -> None:
    """Validate with the SDK's MessageCreateParams TypedDicts; fields they do not declare are dropped by the
    validation, so comparing the result with the input also catches unknown or misspelt fields."""
    checked = {k: v for k, v in body.items() if k not in SDK_REMOVED_FIELDS}
    validated = _materialized(_request_types(bool(body.get("stream"))).validate_python(checked))
    assert validated == checked


def assert_anthropic_headers(headers: dict[str, str]) -> None:
    assert headers["x-api-key"] == UPSTREAM_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"
    assert "anthropic-beta" not in headers and "authorization" not in headers


# --- an independent reading of the recorded answers ------------------------------------------------------

@dataclass
class Answer:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # id, name, arguments (parsed JSON)
    reasoning: str = ""
    signatures: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


def recorded_answer(rec: Recording) -> Answer:
    if not rec.is_sse:
        return _message_answer(rec.json_body())
    answer = Answer()
    partial: dict[int, dict[str, str]] = {}
    signatures: dict[int, str] = {}
    for data in sse_payloads(rec.body_bytes().decode()):
        kind = data["type"]
        if kind == "message_start":
            answer.usage.update(data["message"]["usage"])
        elif kind == "content_block_start" and data["content_block"]["type"] == "tool_use":
            block = data["content_block"]
            partial[data["index"]] = {"id": block["id"], "name": block["name"], "arguments": ""}
        elif kind == "content_block_delta":
            delta = data["delta"]
            answer.text += delta.get("text", "") if delta["type"] == "text_delta" else ""
            answer.reasoning += delta.get("thinking", "") if delta["type"] == "thinking_delta" else ""
            if delta["type"] == "signature_delta":
                signatures[data["index"]] = signatures.get(data["index"], "") + delta["signature"]
            if delta["type"] == "input_json_delta":
                partial[data["index"]]["arguments"] += delta["partial_json"]
        elif kind == "message_delta":
            answer.stop_reason = data["delta"]["stop_reason"]
            answer.usage.update(data["usage"])
    answer.tool_calls = [{**call, "arguments": json.loads(call["arguments"])} for _, call in sorted(partial.items())]
    answer.signatures = [signature for _, signature in sorted(signatures.items())]
    return answer


def _message_answer(body: dict[str, Any]) -> Answer:
    answer = Answer(stop_reason=body["stop_reason"], usage=body["usage"])
    for block in body["content"]:
        if block["type"] == "text":
            answer.text += block["text"]
        elif block["type"] == "thinking":
            answer.reasoning += block["thinking"]
            answer.signatures.append(block["signature"])
        elif block["type"] == "tool_use":
            answer.tool_calls.append({"id": block["id"], "name": block["name"], "arguments": block["input"]})
    return answer


def sse_payloads(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


# --- synthesized streams (documented event shapes) --------------------------------------------------------

def sse(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, ensure_ascii=False)}\n\n"


def message_start(model: str = "claude-sonnet-4-0", input_tokens: int = 10) -> str:
    return sse("message_start", {"message": {
        "id": "msg_synth", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "output_tokens": 1}}})


def text_block(index: int, *pieces: str) -> list[str]:
    return [sse("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}),
            *(sse("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": p}})
              for p in pieces),
            sse("content_block_stop", {"index": index})]


def tool_block(index: int, call_id: str, name: str, *pieces: str) -> list[str]:
    start = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    return [sse("content_block_start", {"index": index, "content_block": start}),
            *(sse("content_block_delta", {"index": index, "delta": {"type": "input_json_delta", "partial_json": p}})
              for p in pieces),
            sse("content_block_stop", {"index": index})]


def message_end(stop_reason: str = "end_turn", output_tokens: int = 5) -> list[str]:
    return [sse("message_delta", {"delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                  "usage": {"output_tokens": output_tokens}}),
            sse("message_stop", {})]


def message_body(content: list[Any], stop_reason: str = "end_turn", **usage: Any) -> dict[str, Any]:
    """A whole Messages response in the documented shape."""
    return {"id": "msg_synth", "type": "message", "role": "assistant", "model": "claude-sonnet-4-0",
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "output_tokens": 5, **usage}}


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Anthropic's documented error shape (https://platform.claude.com/docs/en/api/errors)."""
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_synth"}
