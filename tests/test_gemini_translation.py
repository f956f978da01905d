"""The Gemini adapter's pure translation, without a network: request body, responses, streams, errors."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from lambdarouter.core.catalog.spec import EndpointSpec
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
from lambdarouter.core.hosts import BUILTIN_HOSTS, ResolvedHost
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.providers.base import UpstreamCall
from lambdarouter.providers.common import clean_json_schema, parse_data_url
from lambdarouter.providers.gemini.chat import GeminiAdapter, build_body
from lambdarouter.providers.gemini.messages import SKIP_SIGNATURE
from lambdarouter.providers.gemini.stream import GeminiStreamDecoder, tool_call_id
from tests.fakes.recordings import load_recording
from tests.gemini_cases import validate_with_sdk

HOST = next(h for h in BUILTIN_HOSTS if h.name == "google-ai-studio")
ALL_PARAMS = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "frequency_penalty",
                        "presence_penalty", "tools", "tool_choice", "response_format", "reasoning"})
USER = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {"name": "weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}


def call_for(body: dict[str, Any], model: str = "gemini-2.5-flash", stream: bool = False,
             params: frozenset[str] = ALL_PARAMS, max_output: int | None = 65536) -> UpstreamCall:
    request = to_canonical(ChatCompletionRequest.model_validate({"model": "google/x", **body}))
    endpoint = EndpointSpec(host=HOST.name, upstream_id=model, context_length=1000, max_output_tokens=max_output,
                            prompt=Decimal(1), completion=Decimal(1))
    return UpstreamCall(request, endpoint, ResolvedHost(HOST, "https://up.example", "AIza-secret"), params, stream)


def body_for(body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    built = build_body(call_for(body, **kwargs))
    validate_with_sdk(built)  # every body these tests build is one the google-genai types accept
    return built


def rejected(body: dict[str, Any], **kwargs: Any) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        build_body(call_for(body, **kwargs))
    assert info.value.status == 400
    return info.value


# -- request: URL, headers, roles -------------------------------------------------------------------------------

def test_url_and_key_header() -> None:
    adapter = GeminiAdapter()
    whole = adapter.build_request(call_for({"messages": USER}))
    streamed = adapter.build_request(call_for({"messages": USER}, stream=True))
    assert whole.url == "https://up.example/v1beta/models/gemini-2.5-flash:generateContent"
    assert streamed.url == "https://up.example/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert whole.headers["x-goog-api-key"] == "AIza-secret"
    assert "AIza-secret" not in whole.url and "AIza-secret" not in repr(whole)
    assert GeminiAdapter.needs_image_bytes is True


def test_system_and_developer_messages_become_the_system_instruction() -> None:
    body = body_for({"messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        {"role": "assistant", "content": "Salut"}, {"role": "user", "content": "again", "name": "ann"}]})
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Use French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]}, {"role": "model", "parts": [{"text": "Salut"}]},
        {"role": "user", "parts": [{"text": "ann: again"}]}]


def test_consecutive_assistant_messages_are_one_model_turn() -> None:
    message = assistant_calls("weather")
    body = body_for({"messages": [*USER, {"role": "assistant", "content": "Checking."}, message]})
    assert body["contents"][1] == {"role": "model", "parts": [
        {"text": "Checking."}, {"functionCall": {"name": "weather", "args": {"i": 0}}}]}


def test_a_trailing_assistant_message_is_sent_as_prefill() -> None:
    body = body_for({"messages": [*USER, {"role": "assistant", "content": "The answer is"}]})
    assert body["contents"][-1] == {"role": "model", "parts": [{"text": "The answer is"}]}


def test_images_audio_and_files() -> None:
    png = "iVBORw0KGgo="
    body = body_for({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpg"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}]}]})
    assert body["contents"][0]["parts"] == [
        {"text": "look"}, {"inlineData": {"mimeType": "image/png", "data": png}},
        {"fileData": {"fileUri": "gs://bucket/cat.jpg", "mimeType": "image/jpeg"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}]


def test_http_image_urls_must_arrive_inlined() -> None:
    """The service inlines them (needs_image_bytes); one reaching the adapter is refused, never fetched."""
    rejected({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]})


def test_data_urls() -> None:
    assert parse_data_url("data:image/PNG;base64,AAAA") == parse_data_url("data:image/png;base64,AAAA")
    assert parse_data_url("data:text/plain,hi%20there").data == "aGkgdGhlcmU="
    with pytest.raises(GatewayError):
        parse_data_url("data:image/png;base64,@@@")
    with pytest.raises(GatewayError):
        parse_data_url("data:image/png;base64")


# -- tools ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("choice", "config"), [
    ("auto", {"mode": "AUTO"}),
    ("none", {"mode": "NONE"}),
    ("required", {"mode": "ANY"}),
    ({"type": "function", "function": {"name": "weather"}}, {"mode": "ANY", "allowedFunctionNames": ["weather"]}),
])
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    body = body_for({"messages": USER, "tools": [WEATHER], "tool_choice": choice})
    assert body["toolConfig"] == {"functionCallingConfig": config}
    assert body["tools"] == [{"functionDeclarations": [{"name": "weather", "parametersJsonSchema": {
        "type": "object", "properties": {"city": {"type": "string"}}}}]}]


def test_tool_choice_without_tools_sends_no_config() -> None:
    """Gemini answers 400 "Function calling config is set without function_declarations"."""
    assert "toolConfig" not in body_for({"messages": USER, "tool_choice": "required"})
    rejected({"messages": USER, "tools": [WEATHER], "tool_choice": {"type": "function",
                                                                    "function": {"name": "other"}}})


def assistant_calls(*names: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"id_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps({"i": i})}}
        for i, n in enumerate(names)]}
    if details is not None:
        message["reasoning_details"] = details
    return message


def test_consecutive_tool_results_share_one_user_turn_with_names_recovered() -> None:
    body = body_for({"messages": [
        *USER, assistant_calls("weather", "clock"),
        {"role": "tool", "tool_call_id": "id_1", "content": "12:00"},
        {"role": "tool", "tool_call_id": "id_0", "content": '{"temp": 21}'},
        {"role": "user", "content": "thanks"}], "tools": [WEATHER]})
    assert body["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "weather", "args": {"i": 0}}}, {"functionCall": {"name": "clock", "args": {"i": 1}}}]}
    assert body["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "clock", "response": {"output": "12:00"}}},
        {"functionResponse": {"name": "weather", "response": {"temp": 21}}}]}
    assert body["contents"][3] == {"role": "user", "parts": [{"text": "thanks"}]}


def test_non_object_tool_output_is_wrapped() -> None:
    body = body_for({"messages": [*USER, assistant_calls("weather"),
                                  {"role": "tool", "tool_call_id": "id_0", "content": "[1, 2]"}]})
    assert body["contents"][2]["parts"][0]["functionResponse"]["response"] == {"output": "[1, 2]"}


def test_unknown_tool_call_id_is_a_400() -> None:
    error = rejected({"messages": [*USER, {"role": "tool", "tool_call_id": "nope", "content": "x"}]})
    assert "nope" in error.message


def test_tool_history_without_tools_declares_the_called_functions_with_mode_none() -> None:
    body = body_for({"messages": [*USER, assistant_calls("weather", "weather"),
                                  {"role": "tool", "tool_call_id": "id_0", "content": "sunny"},
                                  {"role": "tool", "tool_call_id": "id_1", "content": "rain"}]})
    assert body["tools"] == [{"functionDeclarations": [{"name": "weather"}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_tool_arguments_must_be_a_json_object() -> None:
    message = assistant_calls("weather")
    message["tool_calls"][0]["function"]["arguments"] = "[1]"
    rejected({"messages": [*USER, message]})


def test_json_schema_ref_siblings_are_dropped() -> None:
    schema = {"$defs": {"A": {"type": "object", "properties": {"$ref": {"type": "string"}}}},
              "type": "object", "properties": {"a": {"$ref": "#/$defs/A", "description": "gone"},
                                               "required": {"type": "string", "enum": ["x"]}}}
    assert clean_json_schema(schema) == {
        "$defs": {"A": {"type": "object", "properties": {"$ref": {"type": "string"}}}},
        "type": "object", "properties": {"a": {"$ref": "#/$defs/A"}, "required": {"type": "string", "enum": ["x"]}}}


# -- thought signatures ----------------------------------------------------------------------------------------

SIG = "c2lnbmF0dXJl"


def test_signatures_are_restored_on_their_calls_and_text() -> None:
    details: list[dict[str, Any]] = [
        {"type": "reasoning.encrypted", "data": SIG, "id": "id_1", "format": "google-gemini-v1", "index": 0},
        {"type": "reasoning.encrypted", "data": "dGV4dA==", "format": "google-gemini-v1", "index": 1},
        {"type": "reasoning.text", "text": "other provider", "signature": "x", "format": "anthropic-claude-v1"}]
    message = assistant_calls("weather", "clock", details=details)
    message["content"] = "Let me check."
    parts = body_for({"messages": [*USER, message]})["contents"][1]["parts"]
    assert parts == [{"text": "Let me check.", "thoughtSignature": "dGV4dA=="},
                     {"functionCall": {"name": "weather", "args": {"i": 0}}},
                     {"functionCall": {"name": "clock", "args": {"i": 1}}, "thoughtSignature": SIG}]


def test_gemini_3_gets_the_documented_placeholder_when_the_signature_was_dropped() -> None:
    messages = [*USER, assistant_calls("weather", "clock")]
    parts = body_for({"messages": messages}, model="gemini-3.8-flash")["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == SKIP_SIGNATURE and "thoughtSignature" not in parts[1]
    parts = body_for({"messages": messages}, model="gemini-2.5-flash")["contents"][1]["parts"]
    assert all("thoughtSignature" not in p for p in parts)


def test_reasoning_details_round_trip() -> None:
    """Signatures from a response, sent back unchanged as reasoning_details, land where they came from."""
    rec = load_recording("gemini/tool-call-parallel")
    events = GeminiAdapter().parse_response(rec.body_bytes())
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    details = [e.detail for e in events if isinstance(e, ReasoningDelta) and e.detail]
    assistant = {"role": "assistant", "content": None, "reasoning_details": details, "tool_calls": [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]}
    parts = body_for({"messages": [*USER, assistant]})["contents"][1]["parts"]
    assert parts == rec.json_body()["candidates"][0]["content"]["parts"]


# -- generationConfig ------------------------------------------------------------------------------------------

def test_sampling_parameters() -> None:
    config = body_for({"messages": USER, "temperature": 0.3, "top_p": 0.9, "top_k": 40, "stop": "END",
                       "max_completion_tokens": 100, "seed": 7, "presence_penalty": 0.5,
                       "frequency_penalty": -0.5})["generationConfig"]
    assert config == {"temperature": 0.3, "topP": 0.9, "topK": 40, "stopSequences": ["END"], "maxOutputTokens": 100,
                      "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": -0.5}


def test_top_k_zero_means_off() -> None:
    assert "generationConfig" not in body_for({"messages": USER, "top_k": 0})


@pytest.mark.parametrize(("field", "value", "says"), [
    ("stop", ["a", "b", "c", "d", "e", "f"], "at most 5"),
    ("seed", 2**31, "32-bit"),
])
def test_values_out_of_geminis_range_are_a_400(field: str, value: Any, says: str) -> None:
    error = rejected({"messages": USER, field: value})
    assert field in error.message and says in error.message


def test_unsupported_parameters_are_dropped() -> None:
    body = body_for({"messages": USER, "temperature": 1, "seed": 3, "tools": [WEATHER]},
                    params=frozenset({"temperature"}))
    assert body["generationConfig"] == {"temperature": 1}
    assert "tools" not in body


def test_response_formats() -> None:
    assert body_for({"messages": USER, "response_format": {"type": "json_object"}})["generationConfig"] == {
        "responseMimeType": "application/json"}
    config = body_for({"messages": USER, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}})["generationConfig"]
    assert config == {"responseMimeType": "application/json",
                      "responseJsonSchema": {"type": "object", "properties": {"a": {"type": "string"}}}}


@pytest.mark.parametrize(("model", "body", "thinking"), [
    ("gemini-2.5-flash", {"reasoning": {"max_tokens": 2000}}, {"thinkingBudget": 2000, "includeThoughts": True}),
    ("gemini-2.5-flash", {"reasoning": {"effort": "high"}, "max_tokens": 10000},
     {"thinkingBudget": 8000, "includeThoughts": True}),
    ("gemini-2.5-flash", {"reasoning_effort": "low"}, {"thinkingBudget": 13107, "includeThoughts": True}),
    ("gemini-2.5-flash", {"reasoning_effort": "high"}, {"thinkingBudget": 24576, "includeThoughts": True}),
    ("gemini-2.5-flash", {"reasoning": {"effort": "minimal"}, "max_tokens": 2000},
     {"thinkingBudget": 1024, "includeThoughts": True}),
    ("gemini-3.8-flash", {"reasoning": {"effort": "medium"}}, {"thinkingLevel": "MEDIUM", "includeThoughts": True}),
    ("gemini-3.8-flash", {"reasoning": {"effort": "low", "exclude": True}}, {"thinkingLevel": "LOW"}),
    ("gemini-2.5-flash", {"reasoning": {"enabled": False}}, {"thinkingBudget": 0}),
    ("gemini-2.5-flash", {"reasoning": {"enabled": True}}, {"includeThoughts": True}),
])
def test_reasoning_maps_to_thinking_config(model: str, body: dict[str, Any], thinking: dict[str, Any]) -> None:
    config = body_for({"messages": USER, **body}, model=model)["generationConfig"]
    assert config["thinkingConfig"] == thinking


def test_no_reasoning_field_sends_no_thinking_config() -> None:
    assert "generationConfig" not in body_for({"messages": USER})
    assert "generationConfig" not in body_for({"messages": USER, "reasoning_effort": "high"},
                                              params=ALL_PARAMS - {"reasoning"})


# -- responses and streams -------------------------------------------------------------------------------------

def events_of(name: str) -> list[StreamEvent]:
    rec = load_recording(name)
    if not rec.is_sse:
        return GeminiAdapter().parse_response(rec.body_bytes())
    decoder = GeminiStreamDecoder()
    data = rec.body_bytes()
    events = [e for i in range(0, len(data), 7) for e in decoder.feed(data[i:i + 7])]  # arbitrary cuts
    return events + decoder.close()


def test_streamed_parallel_calls_have_dense_indices_and_whole_arguments() -> None:
    calls = [e for e in events_of("gemini/tool-call-parallel-stream") if isinstance(e, ToolCallDelta)]
    assert [c.index for c in calls] == [0, 1]
    assert [json.loads(c.arguments) for c in calls] == [{"password": "mellon"}, {"password": "radiance"}]
    assert calls[0].id != calls[1].id
    finish = [e for e in events_of("gemini/tool-call-parallel-stream") if isinstance(e, Finish)]
    assert finish == [Finish("tool_calls", "STOP")]


def test_streamed_and_whole_answers_name_calls_alike() -> None:
    assert tool_call_id("r1", 0, "f", {"a": 1}) == tool_call_id("r1", 0, "f", {"a": 1})
    assert tool_call_id("r1", 0, "f", {"a": 1}) != tool_call_id("r2", 0, "f", {"a": 1})


def test_thoughts_are_reasoning_not_content() -> None:
    events = events_of("gemini/thinking-include-thoughts-stream")
    reasoning = "".join(e.text or "" for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert content == "3" and reasoning.startswith("**Analyzing Prime Substrings**")
    usage = [e.usage for e in events if isinstance(e, UsageReport)][-1]
    assert usage == TokenUsage(prompt_tokens=30, completion_tokens=1947, reasoning_tokens=1947)


def test_the_json_array_stream_form_is_understood() -> None:
    rec = load_recording("gemini/stream-json-array-no-sse")
    decoder = GeminiStreamDecoder()
    data = rec.body_bytes()
    events = [e for i in range(0, len(data), 50) for e in decoder.feed(data[i:i + 50])] + decoder.close()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Scoop"
    assert [e for e in events if isinstance(e, Finish)] == [Finish("stop", "STOP")]
    signature = [e.detail for e in events if isinstance(e, ReasoningDelta) and e.detail]
    assert len(signature) == 1 and "id" not in signature[0]


def sse(*objects: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(o)}\r\n\r\n".encode() for o in objects)


CHUNK = {"candidates": [{"content": {"parts": [{"text": "a"}], "role": "model"}, "index": 0}]}
LAST = {"candidates": [{"content": {"parts": [{"text": "b"}], "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2, "totalTokenCount": 4}}


def test_a_stream_without_a_finish_reason_is_a_502() -> None:
    decoder = GeminiStreamDecoder()
    decoder.feed(sse(CHUNK))
    with pytest.raises(GatewayError) as info:
        decoder.close()
    assert info.value.status == 502 and info.value.retryable


def test_a_truncated_json_array_is_a_502() -> None:
    decoder = GeminiStreamDecoder()
    decoder.feed(b'[{"candidates": [{"content": {"parts": [{"text": "a')
    with pytest.raises(GatewayError):
        decoder.close()


def test_unknown_events_and_fields_are_ignored() -> None:
    decoder = GeminiStreamDecoder()
    unknown = {"somethingNew": {"x": 1}}
    named = b"event: ping\r\n\r\n"
    events = decoder.feed(b": keep-alive\r\n\r\n" + sse(CHUNK, unknown) + named + sse(LAST)) + decoder.close()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "ab"


def test_a_stream_event_that_is_not_json_is_a_502() -> None:
    with pytest.raises(GatewayError) as info:
        GeminiStreamDecoder().feed(b"data: {oops\r\n\r\n")
    assert info.value.status == 502


def test_a_blocked_prompt_finishes_with_content_filter() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}}
    assert Finish("content_filter", "SAFETY") in GeminiAdapter().parse_response(json.dumps(blocked).encode())
    decoder = GeminiStreamDecoder()
    assert Finish("content_filter", "SAFETY") in decoder.feed(sse(blocked)) + decoder.close()


@pytest.mark.parametrize(("native", "reason"), [
    ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
    ("PROHIBITED_CONTENT", "content_filter"), ("MALFORMED_FUNCTION_CALL", "error"), ("SOMETHING_NEW", "error")])
def test_finish_reasons(native: str, reason: str) -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": native}]}
    assert Finish(reason, native) in GeminiAdapter().parse_response(json.dumps(body).encode())  # type: ignore[arg-type]


def test_a_truncated_whole_response_is_a_502() -> None:
    body = load_recording("gemini/text-basic").body_bytes()
    with pytest.raises(GatewayError) as info:
        GeminiAdapter().parse_response(body[: len(body) // 2])
    assert info.value.status == 502


def test_usage_counts_tool_use_prompt_tokens_as_input() -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 10, "toolUsePromptTokenCount": 5, "candidatesTokenCount": 3,
                              "thoughtsTokenCount": 4, "cachedContentTokenCount": 6}}
    [usage] = [e.usage for e in GeminiAdapter().parse_response(json.dumps(body).encode())
               if isinstance(e, UsageReport)]
    assert usage == TokenUsage(prompt_tokens=15, completion_tokens=7, cached_tokens=6, reasoning_tokens=4)


def test_an_error_array_body_is_mapped() -> None:
    """The non-SSE streaming form wraps errors in an array."""
    body = json.dumps([{"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}}]).encode()
    error = GeminiAdapter().map_error(429, {}, body, "google-ai-studio")
    assert (error.status, error.retryable, error.metadata["provider_name"]) == (429, True, "google-ai-studio")
