"""Unit tests of the pure Anthropic translation: request building, response parsing, streams, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UsageReport,
)
from lambdarouter.core.hosts import HostSpec, ResolvedHost
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.profiles.claude import thinking_style
from lambdarouter.providers import adapter_for
from lambdarouter.providers.anthropic.chat import AnthropicAdapter
from lambdarouter.providers.base import UpstreamCall
from tests.anthropic_cases import (
    SIGNED,
    assert_valid_anthropic_request,
    error_body,
    message_body,
    message_end,
    message_start,
    sse,
    text_block,
    tool_block,
)
from tests.fakes.recordings import load_recording
from tests.gateway import EXTRA_MODELS

ADAPTER = AnthropicAdapter()
CATALOG = load_catalog(EXTRA_MODELS)
HOST = ResolvedHost(CATALOG.host("anthropic"), "https://api.anthropic.example", "sk-ant-test-key")
USER = {"role": "user", "content": "hi"}


def call_for(request: dict[str, Any], model: str = "anthropic/claude-sonnet-4-0", stream: bool = False,
             host: ResolvedHost = HOST) -> UpstreamCall:
    endpoint = next(e for e in CATALOG.models[model].endpoints if e.host == "anthropic")
    parsed = to_canonical(ChatCompletionRequest.model_validate({"model": model, **request}))
    return UpstreamCall(parsed, endpoint, host, CATALOG.supported_parameters(endpoint), stream)


def body_for(request: dict[str, Any], model: str = "anthropic/claude-sonnet-4-0",
             stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(ADAPTER.build_request(call_for(request, model, stream)).body)
    assert_valid_anthropic_request(body)
    return body


def rejected(request: dict[str, Any], model: str = "anthropic/claude-sonnet-4-0") -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        ADAPTER.build_request(call_for(request, model))
    assert caught.value.status == 400
    return caught.value


def decode(*events: str, pieces: int = 1) -> list[StreamEvent]:
    """Feed the SSE text in `pieces`-byte slices (events split anywhere), then close."""
    decoder = ADAPTER.stream_decoder()
    data = "".join(events).encode()
    out = [e for i in range(0, len(data), pieces) for e in decoder.feed(data[i:i + pieces])]
    return out + decoder.close()


# --- the HTTP envelope --------------------------------------------------------------------------------------

def test_registry_envelope_and_secret_hiding() -> None:
    assert isinstance(adapter_for("anthropic"), AnthropicAdapter)
    assert AnthropicAdapter.needs_image_bytes is False
    request = ADAPTER.build_request(call_for({"messages": [USER]}, stream=True))
    assert request.url == "https://api.anthropic.example/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test-key"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["accept"] == "text/event-stream"
    assert "sk-ant-test-key" not in repr(request)


def test_a_configured_bearer_host_gets_an_authorization_header() -> None:
    spec = HostSpec("claude-proxy", "Proxy", "anthropic", "https://proxy.example", "PROXY_KEY", auth="bearer",
                    headers={"anthropic-beta": "context-1m"})
    host = ResolvedHost(spec, "https://proxy.example", "proxy-key")
    request = ADAPTER.build_request(call_for({"messages": [USER]}, host=host))
    assert request.headers["authorization"] == "Bearer proxy-key"
    assert request.headers["anthropic-beta"] == "context-1m"
    assert "x-api-key" not in request.headers


# --- messages ---------------------------------------------------------------------------------------------

def test_system_and_developer_messages_become_the_system_field() -> None:
    assert body_for({"messages": [{"role": "system", "content": "Be brief."}, USER]})["system"] == "Be brief."
    body = body_for({"messages": [{"role": "system", "content": "Be brief."},
                                  {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                                  USER]})
    assert body["system"] == [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use French."}]
    assert body["messages"] == [USER]


def test_a_system_prompt_alone_is_a_400() -> None:
    assert "at least one" in rejected({"messages": [{"role": "system", "content": "x"}]}).message


def test_consecutive_tool_results_form_one_user_turn() -> None:
    calls = [{"id": f"toolu_{i}", "type": "function", "function": {"name": "lookup", "arguments": f'{{"n": {i}}}'}}
             for i in (1, 2)]
    body = body_for({"messages": [
        USER, {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "one"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "two"}]},
        {"role": "user", "content": "and now?"},
    ], "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]})
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    # content "" next to tool calls is dropped: Anthropic rejects empty text blocks.
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"n": 1}},
        {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"n": 2}}]
    # One plain text part is the string it is equivalent to (the canonical model has parts only).
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "one"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "two"},
        {"type": "text", "text": "and now?"}]


def test_tool_history_without_tools_declares_the_used_tools() -> None:
    body = body_for({"messages": [
        USER, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
    ], "tool_choice": "required"})
    assert [t["name"] for t in body["tools"]] == ["weather"]
    assert body["tools"][0]["input_schema"] == {"type": "object"}
    assert body["tool_choice"] == {"type": "none"}  # declared for the history only: no new calls


def test_trailing_assistant_message_is_a_prefill() -> None:
    body = body_for({"messages": [USER, {"role": "assistant", "content": "The answer is"}]})
    assert body["messages"][-1] == {"role": "assistant", "content": "The answer is"}


def test_name_is_dropped_and_audio_rejected() -> None:
    assert body_for({"messages": [{**USER, "name": "alice"}]})["messages"] == [USER]
    error = rejected({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]})
    assert "audio" in error.message


def test_images_and_documents() -> None:
    body = body_for({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"},
         "cache_control": {"type": "ephemeral"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
    ]}]})
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"},
         "cache_control": {"type": "ephemeral"}},
        {"type": "document", "title": "a.pdf",
         "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]
    # RFC 2397 allows a percent-encoded payload; providers take base64, so it is re-encoded.
    encoded = body_for({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png,%89PNG"}}]}]})
    assert encoded["messages"][0]["content"][0]["source"]["data"] == "iVBORw=="
    rejected({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,not base64!"}}]}]})
    rejected({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.jpg"}}]}]})


def test_invalid_tool_arguments_are_a_400() -> None:
    error = rejected({"messages": [USER, {"role": "assistant", "tool_calls": [
        {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]})
    assert "toolu_1" in error.message


# --- tools and tool_choice ----------------------------------------------------------------------------------

TOOLS: list[Any] = [{"type": "function", "function": {"name": "get_weather", "description": "Weather.", "strict": True,
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"], "additionalProperties": False}}}]


@pytest.mark.parametrize(("choice", "parallel", "expected"), [
    ("auto", None, {"type": "auto"}),
    ("none", None, {"type": "none"}),
    ("required", None, {"type": "any"}),
    ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ("none", False, {"type": "none"}),
    (None, None, None),
])
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    request: dict[str, Any] = {"messages": [USER], "tools": TOOLS}
    if choice is not None:
        request["tool_choice"] = choice
    if parallel is not None:
        request["parallel_tool_calls"] = parallel
    body = body_for(request)
    assert body.get("tool_choice") == expected
    assert body["tools"] == [{"name": "get_weather", "description": "Weather.", "strict": True,
                              "input_schema": TOOLS[0]["function"]["parameters"]}]


# --- sampling and limits -------------------------------------------------------------------------------------

def test_sampling_parameters_and_their_ranges() -> None:
    body = body_for({"messages": [USER], "temperature": 0.3, "top_p": 0.9, "top_k": 40, "stop": "END",
                     "max_completion_tokens": 321, "user": "user-42"})
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "stop_sequences", "max_tokens", "metadata")} == {
        "temperature": 0.3, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END"], "max_tokens": 321,
        "metadata": {"user_id": "user-42"}}
    assert "temperature" in rejected({"messages": [USER], "temperature": 1.5}).message
    assert "stop" in rejected({"messages": [USER], "stop": ["  "]}).message


def test_unsupported_parameters_are_dropped() -> None:
    body = body_for({"messages": [USER], "seed": 7, "frequency_penalty": 1, "presence_penalty": 1, "logprobs": True})
    assert set(body) == {"model", "max_tokens", "messages", "stream"}
    # Claude 5 takes no sampling parameters (its endpoint does not list them): dropped, not a 400.
    body = body_for({"messages": [USER], "temperature": 1.5, "top_k": 3}, model="anthropic/claude-sonnet-5")
    assert "temperature" not in body and "top_k" not in body


def test_max_tokens_defaults_to_the_endpoint_maximum() -> None:
    assert body_for({"messages": [USER]})["max_tokens"] == 64000
    assert body_for({"messages": [USER]}, model="anthropic/claude-sonnet-5")["max_tokens"] == 128000


# --- reasoning ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("upstream", "style"), [
    ("claude-sonnet-4-0", "budget"), ("claude-sonnet-4-20250514", "budget"), ("claude-3-7-sonnet-20250219", "budget"),
    ("claude-sonnet-4-5-20250929", "budget"), ("claude-haiku-4-5-20251001", "budget"),
    ("claude-opus-4-6", "adaptive"), ("claude-sonnet-4-6", "adaptive"),
    ("claude-opus-4-7", "adaptive_only"), ("claude-sonnet-5", "adaptive_only"), ("claude-opus-5-5", "adaptive_only"),
    ("my-deployment", "budget"),
])
def test_thinking_style_by_model(upstream: str, style: str) -> None:
    assert thinking_style(upstream) == style


@pytest.mark.parametrize(("reasoning", "thinking"), [
    ({"max_tokens": 6400}, {"type": "enabled", "budget_tokens": 6400}),
    ({"effort": "high"}, {"type": "enabled", "budget_tokens": 8000}),  # 0.8 * max_tokens 10000
    ({"effort": "low"}, {"type": "enabled", "budget_tokens": 2000}),
    ({"effort": "minimal"}, {"type": "enabled", "budget_tokens": 1024}),  # 1000 → the 1024 floor
    ({"enabled": True}, {"type": "enabled", "budget_tokens": 5000}),  # medium
    ({"effort": "high", "exclude": True}, {"type": "enabled", "budget_tokens": 8000, "display": "omitted"}),
    ({"enabled": False}, {"type": "disabled"}),
])
def test_reasoning_on_a_budget_model(reasoning: dict[str, Any], thinking: dict[str, Any]) -> None:
    body = body_for({"messages": [USER], "max_tokens": 10000, "reasoning": reasoning})
    assert body["thinking"] == thinking
    assert "output_config" not in body


def test_reasoning_effort_field_and_adaptive_models() -> None:
    assert body_for({"messages": [USER], "max_tokens": 10000, "reasoning_effort": "medium"})["thinking"] == {
        "type": "enabled", "budget_tokens": 5000}
    body = body_for({"messages": [USER], "reasoning_effort": "minimal"}, model="anthropic/claude-sonnet-5")
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "low"}
    body = body_for({"messages": [USER], "reasoning": {"max_tokens": 4000}}, model="anthropic/claude-sonnet-5")
    assert body["thinking"] == {"type": "adaptive"} and "output_config" not in body
    body = body_for({"messages": [USER], "max_tokens": 9000, "reasoning": {"max_tokens": 4000}},
                    model="anthropic/claude-sonnet-4.6")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4000}  # an explicit budget, still accepted


def test_thinking_budget_out_of_range_is_a_400() -> None:
    assert "thinking budget" in rejected({"messages": [USER], "max_tokens": 5000,
                                          "reasoning": {"max_tokens": 5000}}).message
    rejected({"messages": [USER], "max_tokens": 5000, "reasoning": {"max_tokens": 500}})
    rejected({"messages": [USER], "max_tokens": 800, "reasoning": {"effort": "low"}})


def test_reasoning_details_round_trip() -> None:
    """A thinking response → reasoning_details → the next request: the same blocks, unchanged."""
    content = [{"type": "thinking", "thinking": "Let me think.", "signature": "sig-abc"},
               {"type": "redacted_thinking", "data": "ENCRYPTED"}, {"type": "text", "text": "42"}]
    events = ADAPTER.parse_response(json.dumps(message_body(content)).encode())
    details = [e.detail for e in events if isinstance(e, ReasoningDelta) and e.detail]
    assert details == [
        {"type": "reasoning.text", "text": "Let me think.", "signature": "sig-abc", "format": SIGNED, "index": 0},
        {"type": "reasoning.encrypted", "data": "ENCRYPTED", "format": SIGNED, "index": 1}]
    foreign = [{"type": "reasoning.encrypted", "data": "gAAA", "format": "openai-responses-v1", "index": 2},
               {"type": "reasoning.text", "text": "thought", "format": "google-gemini-v1", "signature": "x"}]
    body = body_for({"messages": [USER, {"role": "assistant", "content": "42",
                                         "reasoning_details": [*details, *foreign]}, USER]})
    assert body["messages"][1]["content"] == content  # other providers' blobs and signatures are left out
    # Claude on Bedrock signs the same way: its signed thinking is restored.
    bedrock = {"type": "reasoning.text", "text": "Hm.", "signature": "sig-b", "format": "amazon-bedrock"}
    body = body_for({"messages": [USER, {"role": "assistant", "content": "42", "reasoning_details": [bedrock]}]})
    assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Hm.", "signature": "sig-b"}


# --- whole responses ---------------------------------------------------------------------------------------

def test_parse_response_usage_counts_cache_reads_and_writes() -> None:
    events = ADAPTER.parse_response(json.dumps(message_body(
        [{"type": "text", "text": "hi"}], input_tokens=12, cache_read_input_tokens=4167,
        cache_creation_input_tokens=100, output_tokens=350, output_tokens_details={"thinking_tokens": 30})).encode())
    [usage] = [e.usage for e in events if isinstance(e, UsageReport)]
    assert usage == TokenUsage(prompt_tokens=12 + 4167 + 100, completion_tokens=350, cached_tokens=4167,
                               cache_write_tokens=100, reasoning_tokens=30)


@pytest.mark.parametrize(("native", "reason"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"), ("pause_turn", "stop"), ("model_context_window_exceeded", "length"),
    ("something_new", "stop"),
])
def test_finish_reasons(native: str, reason: str) -> None:
    events = ADAPTER.parse_response(json.dumps(message_body([], stop_reason=native)).encode())
    assert Finish(reason, native) in events  # type: ignore[arg-type]


def test_parallel_tool_calls_get_dense_indices() -> None:
    content = [{"type": "text", "text": "Calling."},
               {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {"x": 1}},
               {"type": "tool_use", "id": "toolu_b", "name": "f", "input": {}}]
    calls = [e for e in ADAPTER.parse_response(json.dumps(message_body(content, "tool_use")).encode())
             if isinstance(e, ToolCallDelta)]
    assert calls == [ToolCallDelta(0, "toolu_a", "f", '{"x": 1}'), ToolCallDelta(1, "toolu_b", "f", "{}")]


@pytest.mark.parametrize("body", [b'{"type":"message","content":[{"type":"te', b"<html>502</html>", b"[]"])
def test_unreadable_response_is_a_502(body: bytes) -> None:
    with pytest.raises(GatewayError) as caught:
        ADAPTER.parse_response(body)
    assert (caught.value.status, caught.value.retryable) == (502, True)


# --- streams -------------------------------------------------------------------------------------------------

def test_stream_tool_indices_are_dense_across_text_blocks() -> None:
    events = decode(message_start(), *text_block(0, "Let me check."),
                    *tool_block(1, "toolu_a", "f", "", '{"x"', ": 1}"), *tool_block(2, "toolu_b", "g"),
                    *message_end("tool_use"), pieces=7)
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls == [ToolCallDelta(0, "toolu_a", "f", ""), ToolCallDelta(0, arguments='{"x"'),
                     ToolCallDelta(0, arguments=": 1}"), ToolCallDelta(1, "toolu_b", "g", ""),
                     ToolCallDelta(1, arguments="{}")]  # a call without arguments still parses as JSON
    assert Finish("tool_calls", "tool_use") in events


def test_stream_thinking_emits_text_then_one_signed_detail() -> None:
    thinking = [sse("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                         "signature": ""}}),
                sse("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm, "}}),
                sse("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "yes."}}),
                sse("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "SIG"}}),
                sse("content_block_stop", {"index": 0})]
    events = decode(message_start(), *thinking, *text_block(1, "42"), *message_end())
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert reasoning == [ReasoningDelta("Hmm, "), ReasoningDelta("yes."), ReasoningDelta(detail={
        "type": "reasoning.text", "text": "Hmm, yes.", "signature": "SIG", "format": SIGNED, "index": 0})]
    assert TextDelta("42") in events


def test_stream_usage_keeps_message_start_counts() -> None:
    events = decode(message_start(input_tokens=17), *text_block(0, "x"), *message_end(output_tokens=15))
    usage = TokenUsage()
    for event in events:
        if isinstance(event, UsageReport):
            usage = usage.merge(event.usage)
    assert (usage.prompt_tokens, usage.completion_tokens) == (17, 15)


def test_recorded_streams_decode_in_any_slicing() -> None:
    data = load_recording("anthropic/tool-call-parallel-stream").body_bytes().decode()
    assert decode(data, pieces=1) == decode(data, pieces=4096)


def test_stream_edge_cases() -> None:
    ping = "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    assert [e for e in decode(message_start(), ping, sse("future_event", {}), *text_block(0, "a"), *message_end())
            if isinstance(e, TextDelta)] == [TextDelta("a")]
    with pytest.raises(GatewayError) as cut:
        decode(message_start(), *text_block(0, "a"))
    assert (cut.value.status, cut.value.retryable) == (502, True)
    with pytest.raises(GatewayError) as garbage:
        decode(message_start(), "data: {not json\n\n")
    assert garbage.value.status == 502
    with pytest.raises(GatewayError) as overloaded:
        decode(message_start(), sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}))
    assert (overloaded.value.status, overloaded.value.retryable) == (502, True)
    assert "Overloaded" in overloaded.value.message


# --- errors ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "kind", "expected"), [
    (400, "invalid_request_error", (400, False)),
    (401, "authentication_error", (502, True)),
    (402, "billing_error", (502, True)),
    (403, "permission_error", (502, True)),
    (404, "not_found_error", (404, False)),
    (413, "request_too_large", (413, False)),
    (429, "rate_limit_error", (429, True)),
    (500, "api_error", (502, True)),
    (504, "timeout_error", (408, True)),
    (529, "overloaded_error", (502, True)),
    (529, None, (502, True)),
    (418, None, (400, False)),
])
def test_error_table(status: int, kind: str | None, expected: tuple[int, bool]) -> None:
    body = json.dumps(error_body(kind, "boom")).encode() if kind else b"<html>teapot</html>"
    error = ADAPTER.map_error(status, {"retry-after": "3"}, body, "anthropic")
    assert (error.status, error.retryable) == expected
    assert error.metadata["provider_name"] == "anthropic"
    assert error.metadata["raw"] == (json.loads(body) if kind else body.decode())
    assert error.headers == {"retry-after": "3"}


def test_response_format() -> None:
    body = body_for({"messages": [USER], "response_format": {"type": "json_schema", "json_schema": {
        "name": "Answer", "strict": True, "schema": {"type": "object", "properties": {"n": {"type": "integer"}},
                                                     "required": ["n"], "additionalProperties": False}}}})
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {
        "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": False}}}
    # json_object has no native counterpart: nothing is added, the prompt must ask for JSON (as with OpenAI).
    assert "output_config" not in body_for({"messages": [USER], "response_format": {"type": "json_object"}})
    rejected({"messages": [USER], "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}})


def test_empty_assistant_turns_are_left_out() -> None:
    body = body_for({"messages": [USER, {"role": "assistant", "content": ""}, {"role": "user", "content": "again"}]})
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                             {"type": "text", "text": "again"}]}]


def test_deprecated_function_calling_is_translated() -> None:
    body = body_for({"messages": [
        USER, {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": '{"q": 1}'}},
        {"role": "function", "name": "lookup", "content": "found"}]})
    call_id = body["messages"][1]["content"][0]["id"]
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": call_id, "name": "lookup", "input": {"q": 1}}]
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": call_id, "content": "found"}]
    assert body["tool_choice"] == {"type": "none"}  # the history's tool, declared for it
