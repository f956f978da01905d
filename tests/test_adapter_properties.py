"""Hypothesis properties of every wire adapter, pure functions only (no network).

1. Any valid OpenAI chat request (messages, tool calls and results, tools, sampling parameters) either becomes a
   body that the provider's own request types accept (the validators the contract tests use) or is refused with a
   4xx GatewayError; never any other exception.
2. Any answer text streamed in the provider's wire format and cut at arbitrary byte boundaries (through multi-byte
   UTF-8 characters and frame headers) decodes to the same text as the non-streamed answer carrying it.

HYPOTHESIS_PROFILE-free: the example counts are set here so the suite stays fast; raise them with
LAMBDAROUTER_PROPERTY_EXAMPLES for a longer run.
"""

from __future__ import annotations

import itertools
import json
import os
from decimal import Decimal
from typing import Any

import pytest
from botocore.credentials import ReadOnlyCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from pydantic import TypeAdapter

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent, TextDelta
from lambdarouter.core.hosts import BUILTIN_HOSTS, ResolvedHost
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.providers.anthropic.chat import AnthropicAdapter
from lambdarouter.providers.base import StreamDecoder, UpstreamCall, WireAdapter
from lambdarouter.providers.bedrock.auth import Signer
from lambdarouter.providers.bedrock.chat import BedrockAdapter
from lambdarouter.providers.gemini.chat import GeminiAdapter
from lambdarouter.providers.openai.chat import OpenAIAdapter
from tests import bedrock_cases
from tests.anthropic_cases import assert_valid_anthropic_request, message_body, message_end, message_start, text_block
from tests.gemini_cases import validate_with_sdk

EXAMPLES = int(os.environ.get("LAMBDAROUTER_PROPERTY_EXAMPLES", "150"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ALL_PARAMS = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "frequency_penalty",
                        "presence_penalty", "tools", "tool_choice", "response_format", "reasoning",
                        "include_reasoning", "structured_outputs", "parallel_tool_calls"})
HOSTS = {h.name: h for h in BUILTIN_HOSTS}
# Format → (host, upstream model): one model per format whose catalog row takes every parameter above.
TARGETS = {"openai": ("openai", "gpt-4o"), "anthropic": ("anthropic", "claude-sonnet-4-5"),
           "gemini": ("google-ai-studio", "gemini-2.5-flash"),
           "bedrock": ("amazon-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")}


class _StaticChain:  # the credentials chain the Bedrock signer reads (tests/test_bedrock_translation.py)
    def credentials(self) -> ReadOnlyCredentials:
        return ReadOnlyCredentials(bedrock_cases.ACCESS_KEY, bedrock_cases.SECRET_KEY, None)

    def region(self) -> str:
        return bedrock_cases.REGION


ADAPTERS: dict[str, WireAdapter] = {"openai": OpenAIAdapter(), "anthropic": AnthropicAdapter(),
                                    "gemini": GeminiAdapter(), "bedrock": BedrockAdapter(Signer(_StaticChain()))}


# --- strategies -----------------------------------------------------------------------------------------------

TEXT = st.text(min_size=1, max_size=40)
NAME = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
PROPERTY_TYPES = st.sampled_from(["string", "integer", "number", "boolean"])


@st.composite
def tools(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    found = []
    for name in names:
        props = draw(st.dictionaries(NAME, PROPERTY_TYPES.map(lambda t: {"type": t}), max_size=4))
        function: dict[str, Any] = {"name": name, "parameters": {"type": "object", "properties": props}}
        if draw(st.booleans()):
            function["description"] = draw(TEXT)
        found.append({"type": "function", "function": function})
    return found


@st.composite
def user_message(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"role": "user", "content": draw(TEXT)}
    parts = draw(st.lists(TEXT.map(lambda t: {"type": "text", "text": t}), min_size=1, max_size=3))
    return {"role": "user", "content": parts}


@st.composite
def tool_exchange(draw: st.DrawFn, names: list[str]) -> list[dict[str, Any]]:
    """An assistant turn calling tools, then one tool result per call (ids unique)."""
    count = draw(st.integers(1, 2))
    calls = [{"id": f"call_{i}_{draw(st.from_regex(r'[a-z0-9]{4}', fullmatch=True))}", "type": "function",
              "function": {"name": draw(st.sampled_from(names)),
                           "arguments": json.dumps(draw(st.dictionaries(NAME, st.integers(), max_size=2)))}}
             for i in range(count)]
    results = [{"role": "tool", "tool_call_id": call["id"], "content": draw(TEXT)} for call in calls]
    return [{"role": "assistant", "content": None, "tool_calls": calls}, *results]


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    request: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": draw(st.sampled_from(["system", "developer"])), "content": draw(TEXT)})
    declared = draw(st.none() | tools())
    for _ in range(draw(st.integers(0, 2))):
        messages.append(draw(user_message()))
        if declared and draw(st.booleans()):
            messages.extend(draw(tool_exchange([t["function"]["name"] for t in declared])))
        messages.append({"role": "assistant", "content": draw(TEXT)})
    messages.append(draw(user_message()))
    request["messages"] = messages
    if declared:
        request["tools"] = declared
        request["tool_choice"] = draw(st.sampled_from(
            ["auto", "none", "required", {"type": "function", "function": {"name": declared[0]["function"]["name"]}}]))
    for name, values in (("temperature", st.floats(0, 2)), ("top_p", st.floats(0, 1)),
                         ("max_tokens", st.integers(1, 4096)), ("seed", st.integers(0, 2**31 - 1)),
                         ("stop", st.lists(TEXT, min_size=1, max_size=4)),
                         ("frequency_penalty", st.floats(-2, 2)), ("presence_penalty", st.floats(-2, 2))):
        if draw(st.booleans()):
            request[name] = draw(values)
    return request


# --- 1: requests ----------------------------------------------------------------------------------------------

def _call(wire: str, request: dict[str, Any], stream: bool) -> UpstreamCall:
    host, upstream = TARGETS[wire]
    parsed = to_canonical(ChatCompletionRequest.model_validate({"model": "fuzz/model", **request}))
    endpoint = EndpointSpec(host=host, upstream_id=upstream, context_length=200000, max_output_tokens=64000,
                            prompt=Decimal(1), completion=Decimal(1))
    return UpstreamCall(parsed, endpoint, ResolvedHost(HOSTS[host], "https://up.example", "sk-test"), ALL_PARAMS,
                        stream)


def _validate(wire: str, body: dict[str, Any], stream: bool) -> None:
    if wire == "openai":
        kind = CompletionCreateParamsStreaming if stream else CompletionCreateParamsNonStreaming
        TypeAdapter(kind).validate_python(body)
    elif wire == "anthropic":
        assert_valid_anthropic_request(body)
    elif wire == "gemini":
        validate_with_sdk(body)
    else:
        bedrock_cases.validate_converse(body, TARGETS["bedrock"][1], stream)


@pytest.mark.parametrize("wire", sorted(ADAPTERS))
@PROPERTY
@given(request=chat_requests(), stream=st.booleans())
def test_any_valid_request_becomes_a_valid_provider_body_or_a_4xx(wire: str, request: dict[str, Any],
                                                                  stream: bool) -> None:
    refused: GatewayError | None = None
    try:
        built = ADAPTERS[wire].build_request(_call(wire, request, stream))
    except GatewayError as exc:
        refused = exc
    if refused is not None:
        assert 400 <= refused.status < 500, refused
        return
    body = json.loads(built.body)
    if wire == "openai":
        body.pop("stream_options", None)  # typed separately by the SDK; the gateway adds include_usage
    _validate(wire, body, stream)


# --- 2: streams ---------------------------------------------------------------------------------------------

def _sse(*objects: dict[str, Any]) -> bytes:
    return b"".join(f"data: {raw_json(o)}\n\n".encode() for o in objects)


def raw_json(value: Any) -> str:
    """JSON as providers send it: raw UTF-8, not `\\u` escapes (which would hide a decoder that splits
    characters)."""
    return json.dumps(value, ensure_ascii=False)


def _openai(pieces: list[str]) -> tuple[bytes, bytes]:
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks = [{**head, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    whole = {**head, "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "".join(pieces)}, "finish_reason": "stop"}]}
    return _sse(*chunks) + b"data: [DONE]\n\n", raw_json(whole).encode()


def _anthropic(pieces: list[str]) -> tuple[bytes, bytes]:
    stream = message_start() + "".join(text_block(0, *pieces)) + "".join(message_end())
    whole = message_body([{"type": "text", "text": "".join(pieces)}])
    return stream.encode(), raw_json(whole).encode()


def _gemini(pieces: list[str]) -> tuple[bytes, bytes]:
    def chunk(text: str, finish: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        return {"candidates": [{**candidate, "finishReason": "STOP"} if finish else candidate]}
    stream = _sse(*(chunk(p, i == len(pieces) - 1) for i, p in enumerate(pieces)))
    return stream, raw_json(chunk("".join(pieces), True)).encode()


def _bedrock(pieces: list[str]) -> tuple[bytes, bytes]:
    whole = {"output": {"message": {"role": "assistant", "content": [{"text": "".join(pieces)}]}},
             "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12},
             "metrics": {"latencyMs": 10}}
    return b"".join(bedrock_cases.text_stream(*pieces)), raw_json(whole).encode()


WIRES = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini, "bedrock": _bedrock}


def _text(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def _feed(decoder: StreamDecoder, data: bytes, cuts: list[int]) -> list[StreamEvent]:
    bounds = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    events = [e for start, end in itertools.pairwise(bounds) for e in decoder.feed(data[start:end])]
    return events + decoder.close()


@pytest.mark.parametrize("wire", sorted(WIRES))
@PROPERTY
@given(pieces=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8),
       cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_a_stream_cut_anywhere_decodes_to_the_non_streamed_text(wire: str, pieces: list[str],
                                                                cuts: list[int]) -> None:
    stream, whole = WIRES[wire](pieces)
    adapter = ADAPTERS[wire]
    streamed = _text(_feed(adapter.stream_decoder(), stream, cuts))
    assert streamed == _text(adapter.parse_response(whole)) == "".join(pieces)
