"""The canonical conversation: OpenRouter's chat dialect translates into it, and what the model does not carry
travels as an `openai-chat` extension that the OpenAI-format adapter puts back verbatim."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.conversation import (
    OPENAI_CHAT,
    CacheControl,
    ChatRequest,
    ImagePart,
    JsonSchemaFormat,
    Message,
    NamedTool,
    Reasoning,
    ReasoningPart,
    RefusalPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    image_urls,
    single_text,
    with_image_urls,
)
from lambdarouter.core.hosts import BUILTIN_HOSTS, ResolvedHost
from lambdarouter.core.parameters import asked, offered
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.providers.base import UpstreamCall
from lambdarouter.providers.openai.chat import OpenAIAdapter

OPENAI = next(h for h in BUILTIN_HOSTS if h.name == "openai")
GROQ = next(h for h in BUILTIN_HOSTS if h.name == "groq")
ENDPOINT = EndpointSpec(host="openai", upstream_id="gpt-up", context_length=1000, prompt=Decimal(1),
                        completion=Decimal(1))
EVERYTHING = frozenset({"max_tokens", "temperature", "top_p", "seed", "tools", "tool_choice", "response_format",
                        "reasoning", "logit_bias", "logprobs", "top_logprobs", "stop", "n"})
SIGNED = {"type": "reasoning.text", "text": "Let me think.", "signature": "sig==", "format": "anthropic-claude-v1",
          "index": 0}
SEALED = {"type": "reasoning.encrypted", "data": "blob", "format": "google-gemini-v1", "id": "call_1", "index": 1}


def canonical(body: dict[str, Any]) -> ChatRequest:
    return to_canonical(ChatCompletionRequest.model_validate({"model": "a/b", **body}))


def sent(body: dict[str, Any], supported: frozenset[str] = EVERYTHING, host: ResolvedHost | None = None,
         stream: bool = False) -> dict[str, Any]:
    call = UpstreamCall(canonical(body), ENDPOINT, host or ResolvedHost(OPENAI, "https://up.example/v1", "sk"),
                        supported, stream)
    built: dict[str, Any] = json.loads(OpenAIAdapter().build_request(call).body)
    return built


def test_messages_become_typed_parts() -> None:
    request = canonical({"messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "name": "ann", "content": [
            {"type": "text", "text": "look", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "image_url", "image_url": {"url": "https://x.example/a.png", "detail": "low"}}]},
        {"role": "assistant", "content": "ok", "refusal": "no", "reasoning_details": [SIGNED],
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "done", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}, "reasoning_effort": "high",
        "response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": {"type": "object"}}},
        "max_tokens": 50, "max_completion_tokens": 40, "stop": "END", "temperature": 0.5})
    developer, user, assistant, tool = request.messages
    assert developer == Message("developer", (TextPart("Be brief."),))
    assert user.name == "ann"
    assert user.parts == (TextPart("look", cache=CacheControl("ephemeral", "1h")),
                          ImagePart("https://x.example/a.png", "low"))
    assert assistant.parts == (
        ReasoningPart(text="Let me think.", signature="sig==", format="anthropic-claude-v1",
                      extensions={OPENAI_CHAT: {"index": 0}}),
        TextPart("ok"), RefusalPart("no"), ToolCallPart("call_1", "f", "{}"))
    assert tool == Message("tool", (ToolResultPart("call_1", (TextPart("done"),)),), cache=CacheControl())
    assert request.tool_choice == NamedTool("f")
    assert request.reasoning == Reasoning(effort="high")
    assert request.output == JsonSchemaFormat("A", {"type": "object"})
    assert (request.max_output_tokens, request.stop, request.sampling.temperature) == (40, ("END",), 0.5)


def test_deprecated_function_calls_pair_by_generated_ids() -> None:
    request = canonical({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "one"},
        {"role": "function", "name": "g", "content": "orphan"}]})
    call = request.messages[1].parts[0]
    assert isinstance(call, ToolCallPart) and call.id == "function_call_1"
    assert request.messages[2].parts == (ToolResultPart("function_call_1", (TextPart("one"),), "f"),)
    assert request.messages[3].parts == (ToolResultPart("function_call_2", (TextPart("orphan"),), "g"),)


def test_what_the_model_does_not_carry_reaches_an_openai_host_as_sent() -> None:
    messages = [
        {"role": "system", "content": "Be terse.", "x-tag": 1},
        {"role": "user", "content": [{"type": "text", "text": "hi", "x-part": True},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA",
                                                                         "detail": "high", "x-inner": "k"}}]},
        {"role": "assistant", "content": None, "reasoning": "Let me think.",
         "reasoning_details": [SIGNED, SEALED, {"type": "reasoning.future", "blob": [1, 2]}],
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "six"},
    ]
    tools = [{"type": "function", "function": {"name": "f", "description": "F.", "parameters": {"type": "object"},
                                               "strict": True}, "cache_control": {"type": "ephemeral"}}]
    body = sent({"messages": messages, "tools": tools, "logit_bias": {"50256": -100}, "logprobs": True,
                 "top_logprobs": 2, "audio": {"voice": "alloy"}, "provider": {"sort": "price"}, "seed": 7,
                 "user": "u-1", "metadata": {"k": "v"}, "models": ["x/y"], "reasoning": {"effort": "low"}})
    assert body["messages"] == messages
    assert body["tools"] == tools
    assert {k: body[k] for k in ("logit_bias", "logprobs", "top_logprobs", "audio", "seed", "user", "metadata")} == {
        "logit_bias": {"50256": -100}, "logprobs": True, "top_logprobs": 2, "audio": {"voice": "alloy"},
        "seed": 7, "user": "u-1", "metadata": {"k": "v"}}
    assert body["reasoning_effort"] == "low"
    assert not {"provider", "models", "reasoning", "usage"} & body.keys()  # the gateway's own fields


def test_parameters_the_endpoint_does_not_take_are_dropped() -> None:
    request = canonical({"messages": [{"role": "user", "content": "hi"}], "temperature": 1, "seed": 3,
                         "logit_bias": {"1": 1}, "stop": ["x"], "max_tokens": 9, "tools": [
                             {"type": "function", "function": {"name": "f"}}], "parallel_tool_calls": False})
    assert asked(request) == {"temperature", "seed", "logit_bias", "stop", "max_tokens", "tools"}
    kept = offered(request, frozenset({"temperature", "max_tokens"}))
    assert (kept.sampling.temperature, kept.sampling.seed, kept.stop, kept.max_output_tokens) == (1, None, (), 9)
    assert (kept.tools, kept.parallel_tool_calls, kept.extensions[OPENAI_CHAT]) == ((), None, {})
    assert offered(request, frozenset(asked(request))) is request
    body = sent({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "logit_bias": {"1": 1}},
                frozenset({"temperature"}), ResolvedHost(GROQ, "https://up.example/v1", "k"), stream=True)
    assert body == {"model": "gpt-up", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                    "stream_options": {"include_usage": True}}


def test_image_urls_are_found_and_replaced_everywhere_without_mutation() -> None:
    request = canonical({"messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://a.example/1.png"}}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": [
            {"type": "image_url", "image_url": {"url": "https://a.example/2.png"}}]}]})
    assert image_urls(request) == ["https://a.example/1.png", "https://a.example/2.png"]
    swapped = with_image_urls(request, {"https://a.example/2.png": "data:image/png;base64,AA"})
    assert image_urls(swapped) == ["https://a.example/1.png", "data:image/png;base64,AA"]
    assert image_urls(request)[1] == "https://a.example/2.png"
    assert with_image_urls(request, {}) is request


def test_single_text_is_one_plain_text_part_only() -> None:
    assert single_text((TextPart("a"),)) == "a"
    assert single_text((TextPart("a", cache=CacheControl()),)) is None
    assert single_text((TextPart("a"), TextPart("b"))) is None
    assert single_text(()) is None
