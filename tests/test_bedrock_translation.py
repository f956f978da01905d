"""The Bedrock adapter's pure translation: request bodies, signing, answers, streams and errors.

Every request body built here is also validated against botocore's own `bedrock-runtime` Converse input
shape, so a field the Converse API does not know (or a wrong type) fails the test.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from botocore.credentials import ReadOnlyCredentials

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
from lambdarouter.providers import adapter_for
from lambdarouter.providers.base import HttpRequest, UpstreamCall
from lambdarouter.providers.bedrock.auth import AwsChain, Signer, endpoint_url
from lambdarouter.providers.bedrock.chat import BedrockAdapter, build_body
from lambdarouter.providers.bedrock.errors import ERROR_TYPES
from lambdarouter.providers.bedrock.stream import BedrockStreamDecoder
from tests.bedrock_cases import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    event,
    exception,
    frame,
    parallel_tool_stream,
    text_stream,
    validate_converse,
    verify_sigv4,
)
from tests.fakes.recordings import all_recordings, load_recording
from tests.fakes.upstream import ReceivedRequest

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "us.amazon.nova-micro-v1:0"
LLAMA = "us.meta.llama3-3-70b-instruct-v1:0"
CLAUDE_PARAMS = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop", "tools", "tool_choice",
                           "reasoning", "include_reasoning", "response_format", "structured_outputs"})
BEDROCK = next(h for h in BUILTIN_HOSTS if h.name == "amazon-bedrock")
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
HELLO = [{"role": "user", "content": "hi"}]


class StaticChain:
    def __init__(self, credentials: ReadOnlyCredentials | None = None, region: str | None = REGION) -> None:
        self._credentials = credentials
        self._region = region

    def credentials(self) -> ReadOnlyCredentials | None:
        return self._credentials

    def region(self) -> str | None:
        return self._region


def adapter(token: str | None = None) -> BedrockAdapter:
    return BedrockAdapter(Signer(StaticChain(ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, token))))


def call_for(body: dict[str, Any], model_id: str = CLAUDE, stream: bool = False,
             params: frozenset[str] = CLAUDE_PARAMS, max_output: int | None = 64000,
             base_url: str = "") -> UpstreamCall:
    request = to_canonical(ChatCompletionRequest.model_validate({"model": "a/b", "messages": HELLO, **body}))
    endpoint = EndpointSpec(host="amazon-bedrock", upstream_id=model_id, context_length=200000,
                            max_output_tokens=max_output, prompt=Decimal(1), completion=Decimal(1))
    return UpstreamCall(request, endpoint, ResolvedHost(BEDROCK, base_url, None), params, stream)


def body_for(body: dict[str, Any], model_id: str = CLAUDE, **kwargs: Any) -> dict[str, Any]:
    built = build_body(call_for(body, model_id, **kwargs))
    validate_converse(built, model_id, stream=False)
    return built


def bad(body: dict[str, Any], model_id: str = CLAUDE, **kwargs: Any) -> GatewayError:
    with pytest.raises(GatewayError) as raised:
        build_body(call_for(body, model_id, **kwargs))
    assert raised.value.status == 400
    return raised.value


def decode(frames: list[bytes], split: int | None = None) -> list[StreamEvent]:
    wire = b"".join(frames)
    pieces = [wire[i:i + split] for i in range(0, len(wire), split)] if split else frames
    decoder = BedrockStreamDecoder()
    events = [e for piece in pieces for e in decoder.feed(piece)]
    return events + decoder.close()


# --- request body ----------------------------------------------------------------------------------------

def test_registry_builds_the_bedrock_adapter() -> None:
    assert isinstance(adapter_for("bedrock"), BedrockAdapter)
    assert BedrockAdapter.needs_image_bytes is True


def test_system_and_developer_messages_become_system_blocks_in_order() -> None:
    body = body_for({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
    ]})
    assert body["system"] == [{"text": "Be brief."}, {"text": "Use French."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


@pytest.mark.parametrize(("field", "value", "range_text"), [
    ("temperature", 1.5, "between 0 and 1"),  # OpenAI allows up to 2; Converse does not
])
def test_out_of_range_sampling_is_a_400_naming_the_parameter(field: str, value: float, range_text: str) -> None:
    error = bad({field: value})
    assert field in error.message and range_text in error.message


def test_sampling_parameters_map_to_inference_config() -> None:
    body = body_for({"temperature": 0.3, "top_p": 0.8, "max_completion_tokens": 500, "stop": "END"})
    assert body["inferenceConfig"] == {"temperature": 0.3, "topP": 0.8, "maxTokens": 500, "stopSequences": ["END"]}


def test_unsupported_parameters_are_not_sent() -> None:
    body = body_for({"temperature": 0.3, "top_k": 5, "seed": 7, "frequency_penalty": 1, "max_tokens": 9},
                    params=frozenset({"max_tokens"}))
    assert body == {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 9}}


def test_top_k_goes_where_each_model_family_takes_it() -> None:
    assert body_for({"top_k": 5})["additionalModelRequestFields"] == {"top_k": 5}
    assert body_for({"top_k": 5}, NOVA)["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 5}}
    assert "additionalModelRequestFields" not in body_for({"top_k": 5}, LLAMA)


CITY = {"type": "object", "properties": {"city": {"type": "string"}}}
WEATHER = {"type": "function",
           "function": {"name": "get_weather", "description": "Weather in a city", "parameters": CITY}}
WEATHER_SPEC = {"toolSpec": {"name": "get_weather", "description": "Weather in a city", "inputSchema": {"json": CITY}}}


@pytest.mark.parametrize(("choice", "expected"), [
    (None, None),
    ("auto", {"auto": {}}),
    ("required", {"any": {}}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"tool": {"name": "get_weather"}}),
])
def test_tool_choice_variants(choice: Any, expected: dict[str, Any] | None) -> None:
    body = body_for({"tools": [WEATHER], **({"tool_choice": choice} if choice else {})})
    config = {"tools": [WEATHER_SPEC], **({"toolChoice": expected} if expected else {})}
    assert body["toolConfig"] == config


def test_tool_choice_none_withholds_the_tools() -> None:
    assert "toolConfig" not in body_for({"tools": [WEATHER], "tool_choice": "none"})


def tool_history(extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
        *(extra or []),
    ]


def test_consecutive_tool_results_become_one_user_turn() -> None:
    body = body_for({"messages": tool_history([{"role": "user", "content": "And tomorrow?"}]), "tools": [WEATHER]})
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
        {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {"city": "Rome"}}},
    ]
    assert body["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C"}]}},
        {"toolResult": {"toolUseId": "call_2", "content": [{"text": "21C"}]}},
        {"text": "And tomorrow?"},
    ]


@pytest.mark.parametrize("request_extra", [{}, {"tools": [WEATHER], "tool_choice": "none"}])
def test_tool_history_without_tools_gets_a_synthesized_tool_config(request_extra: dict[str, Any]) -> None:
    body = body_for({"messages": tool_history(), **request_extra})
    assert body["toolConfig"] == {"tools": [{"toolSpec": {"name": "get_weather",
                                                          "inputSchema": {"json": {"type": "object"}}}}]}


def test_tool_call_ids_from_other_providers_are_made_valid_on_both_sides() -> None:
    messages = tool_history()
    messages[1]["tool_calls"][0]["id"] = "call/with spaces+and=more"
    messages[2]["tool_call_id"] = "call/with spaces+and=more"
    body = body_for({"messages": messages, "tools": [WEATHER]})
    use = body["messages"][1]["content"][1]["toolUse"]["toolUseId"]
    assert use == "call_with_spaces_and_more"
    assert body["messages"][2]["content"][0]["toolResult"]["toolUseId"] == use


def test_bad_tool_arguments_are_a_400() -> None:
    messages = tool_history()
    messages[1]["tool_calls"][0]["function"]["arguments"] = "{not json"
    assert "tool_calls[0]" in bad({"messages": messages}).message


def test_trailing_assistant_message_is_sent_as_prefill() -> None:
    body = body_for({"messages": [{"role": "user", "content": "Name a color."},
                                  {"role": "assistant", "content": "The color is"}]})
    assert body["messages"][-1] == {"role": "assistant", "content": [{"text": "The color is"}]}


def test_consecutive_user_messages_merge_and_empty_ones_vanish() -> None:
    body = body_for({"messages": [{"role": "user", "content": "a", "name": "ann"}, {"role": "user", "content": ""},
                                  {"role": "user", "content": "b"}]})
    assert body["messages"] == [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}]


def test_images_documents_and_their_errors() -> None:
    content = [{"type": "text", "text": "see"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
               {"type": "image_url", "image_url": {"url": "s3://bucket/photos/cat.JPG"}},
               {"type": "file",
                "file": {"filename": "q3_report.final.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}}]
    body = body_for({"messages": [{"role": "user", "content": content}]})
    assert body["messages"][0]["content"][1:] == [
        {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/photos/cat.JPG"}}}},
        {"document": {"format": "pdf", "name": "q3-report-final", "source": {"bytes": "JVBERi0="}}},
    ]
    for url, says in [("https://example.com/cat.png", "data: URLs"), ("data:image/bmp;base64,Qk0=", "image/bmp"),
                      ("data:image/png;base64,@@@", "base64")]:
        part = {"type": "image_url", "image_url": {"url": url}}
        assert says in bad({"messages": [{"role": "user", "content": [part]}]}).message


def test_cache_control_becomes_cache_points() -> None:
    ephemeral = {"type": "ephemeral"}
    body = body_for({
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "long rules", "cache_control": ephemeral}]},
            {"role": "user", "content": [{"type": "text", "text": "doc", "cache_control": {**ephemeral, "ttl": "1h"}},
                                         {"type": "text", "text": "question"}]},
            {"role": "assistant", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1",
             "content": [{"type": "text", "text": "ok", "cache_control": ephemeral}]},
        ],
        "tools": [{**WEATHER, "cache_control": ephemeral}],
    })
    point = {"cachePoint": {"type": "default"}}
    assert body["system"] == [{"text": "long rules"}, point]
    assert body["messages"][0]["content"] == [{"text": "doc"}, {"cachePoint": {"type": "default", "ttl": "1h"}},
                                              {"text": "question"}]
    assert body["messages"][2]["content"] == [{"toolResult": {"toolUseId": "c1", "content": [{"text": "ok"}]}}, point]
    assert body["toolConfig"]["tools"] == [WEATHER_SPEC, point]


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    body = body_for({"response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": schema}}})
    definition = body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert definition["name"] == "A" and json.loads(definition["schema"]) == schema
    # No json_object mode in Converse: the documented fallback is a system instruction.
    body = body_for({"response_format": {"type": "json_object"}})
    assert "outputConfig" not in body and "JSON object" in body["system"][-1]["text"]
    assert "system" not in body_for({"response_format": {"type": "text"}})


@pytest.mark.parametrize(("reasoning", "max_tokens", "budget", "sent_max"), [
    ({"effort": "high"}, 10000, 8000, 10000),
    ({"effort": "low"}, 20000, 4000, 20000),
    ({"effort": "medium"}, None, 32000, 64000),  # 50 % of the endpoint's 64000, capped at 32000
    ({"effort": "minimal"}, 4000, 1024, 4000),  # 10 % would be 400: raised to Anthropic's 1024 minimum
    ({"enabled": True}, 8000, 4000, 8000),  # enabled alone means medium
    ({"max_tokens": 2048}, None, 2048, 64000),
])
def test_reasoning_maps_to_claude_thinking(reasoning: dict[str, Any], max_tokens: int | None, budget: int,
                                           sent_max: int) -> None:
    body = body_for({"reasoning": reasoning, **({"max_tokens": max_tokens} if max_tokens else {})})
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": budget}}
    assert body["inferenceConfig"]["maxTokens"] == sent_max


def test_reasoning_effort_field_and_when_reasoning_is_not_sent() -> None:
    assert body_for({"reasoning_effort": "high", "max_tokens": 5000})["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 4000}}
    # Off is said as through Anthropic's API (the Claude profile): thinking disabled, and no maxTokens pinned.
    off = body_for({"reasoning": {"enabled": False, "effort": "high"}})
    assert off["additionalModelRequestFields"] == {"thinking": {"type": "disabled"}} and "inferenceConfig" not in off
    assert "additionalModelRequestFields" not in body_for({"reasoning": {"effort": "high"}}, NOVA)
    assert "additionalModelRequestFields" not in body_for({"reasoning": {"effort": "high"}},
                                                          params=CLAUDE_PARAMS - {"reasoning"})


@pytest.mark.parametrize(("model_id", "fields"), [
    ("us.anthropic.claude-opus-4-6-v1", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}),
    ("us.anthropic.claude-opus-4-7", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}),
])
def test_claude_on_bedrock_thinks_as_through_anthropic(model_id: str, fields: dict[str, Any]) -> None:
    """The same Claude profile as Anthropic's API: adaptive thinking with an effort from the 4.6 models on
    (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html); Opus 4.7
    refuses `enabled` with a budget, which Bedrock was sent before the profiles."""
    assert body_for({"reasoning": {"effort": "high"}}, model_id)["additionalModelRequestFields"] == fields
    off = body_for({"reasoning": {"enabled": False}}, "us.anthropic.claude-opus-4-7")
    assert "additionalModelRequestFields" not in off  # adaptive-only models refuse an explicit `disabled`


def test_reasoning_out_of_range_is_a_400() -> None:
    assert "at least 1024" in bad({"reasoning": {"max_tokens": 500}}).message
    assert "greater than the reasoning budget" in bad({"reasoning": {"max_tokens": 4000}, "max_tokens": 4000}).message


def test_reasoning_details_round_trip_into_native_blocks() -> None:
    rec = load_recording("bedrock/thinking")
    events = adapter().parse_response(rec.body_bytes())
    details = [e.detail for e in events if isinstance(e, ReasoningDelta) and e.detail]
    native = rec.json_body()["output"]["message"]["content"]
    assistant = {"role": "assistant", "content": native[1]["text"], "reasoning_details": details}
    body = body_for({"messages": [*HELLO, assistant, {"role": "user", "content": "thanks"}]})
    # The thinking block goes back unchanged (text and signature), ahead of the text it preceded.
    assert body["messages"][1]["content"] == native


def test_reasoning_details_from_elsewhere_are_not_restored() -> None:
    details = [{"type": "reasoning.text", "text": "t", "signature": "sig", "format": "google-gemini-v1", "index": 0},
               {"type": "reasoning.text", "text": "u", "signature": "s2", "format": "anthropic-claude-v1", "index": 1},
               {"type": "reasoning.text", "text": "no signature", "format": "amazon-bedrock", "index": 2},
               {"type": "reasoning.encrypted", "data": "ZGF0YQ==", "format": "amazon-bedrock", "index": 3}]
    assistant = {"role": "assistant", "content": "a", "reasoning_details": details}
    body = body_for({"messages": [*HELLO, assistant, {"role": "user", "content": "b"}]})
    assert body["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "u", "signature": "s2"}}},  # Claude signatures travel
        {"reasoningContent": {"redactedContent": "ZGF0YQ=="}},
        {"text": "a"},
    ]


def test_deprecated_function_call_pairs_with_its_result() -> None:
    body = body_for({"messages": [*HELLO, {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
                                  {"role": "function", "name": "f", "content": "done"}]})
    assert body["messages"][1]["content"][0]["toolUse"]["toolUseId"] == "function_call_1"
    assert body["messages"][2]["content"][0]["toolResult"]["toolUseId"] == "function_call_1"


# --- the signed HTTP request -----------------------------------------------------------------------------

def received(request: HttpRequest) -> ReceivedRequest:
    """What a server receives for `request`, as the fake upstream records it (httpx adds Host)."""
    parts = urlsplit(request.url)
    headers = {k.lower(): v for k, v in request.headers.items()} | {"host": parts.netloc}
    return ReceivedRequest(request.method, unquote(parts.path), parts.query, headers, request.body, parts.path)


@pytest.mark.parametrize("stream", [False, True])
def test_request_is_signed_for_the_encoded_path(stream: bool) -> None:
    call = call_for({}, stream=stream, base_url="http://127.0.0.1:9/")
    request = adapter(token="session-token").build_request(call)
    operation = "converse-stream" if stream else "converse"
    assert request.url == f"http://127.0.0.1:9/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/{operation}"
    assert request.headers["accept"] == ("application/vnd.amazon.eventstream" if stream else "application/json")
    assert request.headers["X-Amz-Security-Token"] == "session-token"
    assert "host" not in {k.lower() for k in request.headers}  # httpx derives it from the signed URL
    verify_sigv4(received(request), "http://127.0.0.1:9")
    assert SECRET_KEY not in repr(request)


def test_regional_endpoint_and_arn_model_ids() -> None:
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6"
    assert endpoint_url("", "eu-west-1", arn, False) == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
        "arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-sonnet-4-6/converse")


def test_missing_credentials_or_region_are_a_retryable_503() -> None:
    for chain in (StaticChain(None), StaticChain(ReadOnlyCredentials("a", "b", None), region=None)):
        with pytest.raises(GatewayError) as raised:
            BedrockAdapter(Signer(chain)).build_request(call_for({}))
        assert raised.value.status == 503 and raised.value.retryable
        assert "AWS_" in raised.value.message or "IAM role" in raised.value.message


def test_chain_reads_the_region_from_the_environment_and_remembers_missing_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[int] = []

    class NoCredentials:
        def get_credentials(self) -> None:
            lookups.append(1)

        def get_config_variable(self, name: str) -> str:
            return "ap-south-1"

    chain = AwsChain(NoCredentials)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert chain.region() == "eu-central-1"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert chain.region() == "ap-south-1"
    assert chain.credentials() is None and chain.credentials() is None
    assert len(lookups) == 1  # not walked again on the next request


# --- answers ---------------------------------------------------------------------------------------------

def converse(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> bytes:
    counts = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15, **usage}
    return json.dumps({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
                       "usage": counts, "metrics": {"latencyMs": 1}}).encode()


@pytest.mark.parametrize(("native", "reason"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"), ("tool_use", "tool_calls"),
    ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
    ("malformed_tool_use", "error"), ("something_new", "stop"),
])
def test_stop_reasons(native: str, reason: str) -> None:
    events = adapter().parse_response(converse([{"text": "x"}], stop=native))
    assert Finish(reason, native) in events  # type: ignore[arg-type]


def test_usage_adds_cache_reads_and_writes_to_the_prompt() -> None:
    events = adapter().parse_response(converse([], cacheReadInputTokens=100, cacheWriteInputTokens=30))
    assert UsageReport(TokenUsage(prompt_tokens=140, completion_tokens=5, cached_tokens=100,
                                  cache_write_tokens=30)) in events


def test_parallel_tool_calls_in_a_whole_answer() -> None:
    events = adapter().parse_response(converse([
        {"text": "Both."}, {"toolUse": {"toolUseId": "a", "name": "f", "input": {"x": 1}}},
        {"toolUse": {"toolUseId": "b", "name": "g", "input": {}}}], stop="tool_use"))
    assert events[:3] == [TextDelta("Both."), ToolCallDelta(0, "a", "f", '{"x": 1}'), ToolCallDelta(1, "b", "g", "{}")]


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"output": {"message": {"content": "x"}}}', b"[]"])
def test_malformed_answers_are_a_retryable_502(body: bytes) -> None:
    with pytest.raises(GatewayError) as raised:
        adapter().parse_response(body)
    assert raised.value.status == 502 and raised.value.retryable


# --- streams ---------------------------------------------------------------------------------------------

STREAMS = [n for n in all_recordings("bedrock") if load_recording(n).is_eventstream]


@pytest.mark.parametrize("name", STREAMS)
def test_recorded_streams_decode_the_same_whatever_the_split(name: str) -> None:
    frames = [load_recording(name).body_bytes()]
    whole = decode(frames)
    assert isinstance(whole[-1], UsageReport) and isinstance(whole[-2], Finish)
    for split in (1, 5, 64):
        assert decode(frames, split) == whole


def test_stream_tool_indices_are_dense_in_order() -> None:
    events = decode(parallel_tool_stream())
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [(c.index, c.id, c.name) for c in calls if c.id] == [(0, "tooluse_paris", "get_weather"),
                                                               (1, "tooluse_rome", "get_weather")]
    for index, city in ((0, "Paris"), (1, "Rome")):
        assert json.loads("".join(c.arguments for c in calls if c.index == index)) == {"city": city}
    assert Finish("tool_calls", "tool_use") in events


def test_stream_reasoning_text_then_one_detail_with_the_signature() -> None:
    frames = [event("messageStart", {"role": "assistant"}),
              event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Let "}}}),
              event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "me."}}}),
              event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "S"}}}),
              event("contentBlockStop", {"contentBlockIndex": 0}),
              event("contentBlockDelta",
                    {"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "UkVE"}}}),
              event("contentBlockStop", {"contentBlockIndex": 1}),
              *text_stream("Hi")[1:]]
    reasoning = [e for e in decode(frames) if isinstance(e, ReasoningDelta)]
    assert reasoning == [
        ReasoningDelta(text="Let "), ReasoningDelta(text="me."),
        ReasoningDelta(detail={"type": "reasoning.text", "text": "Let me.", "signature": "S",
                               "format": "amazon-bedrock", "index": 0}),
        ReasoningDelta(detail={"type": "reasoning.encrypted", "data": "UkVE", "format": "amazon-bedrock", "index": 1}),
    ]


def test_unknown_events_and_message_types_are_ignored() -> None:
    frames = text_stream("a", "b")
    frames.insert(1, event("someFutureEvent", {"contentBlockIndex": 0, "whatever": True}))
    frames.insert(2, frame({":message-type": "futureType", ":event-type": "x"}, b"{}"))
    assert [e for e in decode(frames) if isinstance(e, TextDelta)] == [TextDelta("a"), TextDelta("b")]


@pytest.mark.parametrize(("frames", "says"), [
    (text_stream("a")[:-2], "messageStop"),
    (text_stream("a")[:-1], "metadata"),
    ([*text_stream("a"), text_stream("b")[0][:10]], "inside an event-stream frame"),
])
def test_truncated_streams_are_a_502(frames: list[bytes], says: str) -> None:
    decoder = BedrockStreamDecoder()
    for piece in frames:
        decoder.feed(piece)
    with pytest.raises(GatewayError) as raised:
        decoder.close()
    assert raised.value.status == 502 and raised.value.retryable and says in raised.value.message


@pytest.mark.parametrize(("kind", "status", "retryable"), [
    ("throttlingException", 429, True), ("modelStreamErrorException", 502, True),
    ("serviceUnavailableException", 502, True), ("internalServerException", 502, True),
    ("validationException", 400, False), ("brandNewException", 502, True),
])
def test_exception_frames_end_the_stream_with_their_status(kind: str, status: int, retryable: bool) -> None:
    decoder = BedrockStreamDecoder()
    frames = text_stream("partial")[:2]
    # Delivered in ONE piece with the text before it: the text still reaches the client first.
    events = decoder.feed(b"".join([*frames, exception(kind, "Too many tokens, please wait.")]))
    assert TextDelta("partial") in events
    with pytest.raises(GatewayError) as raised:
        decoder.close()
    error = raised.value
    assert (error.status, error.retryable) == (status, retryable)
    assert error.metadata["provider_name"] == "amazon-bedrock"
    assert error.metadata["raw"] == {"message": "Too many tokens, please wait."}


def test_corrupt_frame_is_a_502() -> None:
    good = text_stream("a")
    corrupt = bytearray(good[1])
    corrupt[-6] ^= 0xFF  # a payload byte: the message CRC no longer matches
    decoder = BedrockStreamDecoder()
    decoder.feed(good[0])
    with pytest.raises(GatewayError) as raised:
        decoder.feed(bytes(corrupt))
    assert raised.value.status == 502 and "corrupt" in raised.value.message


# --- errors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "http"), [
    ("ValidationException", 400), ("AccessDeniedException", 403), ("UnrecognizedClientException", 403),
    ("ExpiredTokenException", 403), ("ResourceNotFoundException", 404), ("ThrottlingException", 429),
    ("ModelTimeoutException", 408), ("ServiceUnavailableException", 503), ("InternalServerException", 500),
    ("ModelErrorException", 424), ("ModelNotReadyException", 429), ("ServiceQuotaExceededException", 400),
])
def test_error_types_map_through_the_table(kind: str, http: int) -> None:
    headers = {"x-amzn-errortype": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
               "Retry-After": "3"}
    error = adapter().map_error(http, headers, b'{"message":"boom"}', "amazon-bedrock")
    assert (error.status, error.retryable) == ERROR_TYPES[kind]
    assert error.metadata == {"provider_name": "amazon-bedrock", "raw": {"message": "boom"}, "status": http,
                              "error_type": kind}
    assert error.message == f"amazon-bedrock: {kind}: boom"
    assert error.headers == {"retry-after": "3"}


def test_the_table_follows_the_design() -> None:
    assert ERROR_TYPES["ValidationException"] == (400, False)
    assert ERROR_TYPES["ThrottlingException"] == (429, True)
    assert ERROR_TYPES["ModelTimeoutException"] == (408, True)
    assert ERROR_TYPES["ServiceQuotaExceededException"] == (429, True)
    assert all(retryable for status, retryable in ERROR_TYPES.values() if status >= 500)


def test_errors_without_a_known_type_fall_back_on_the_http_status() -> None:
    error = adapter().map_error(503, {}, b"<html>busy</html>", "amazon-bedrock")
    assert (error.status, error.retryable) == (502, True) and error.metadata["raw"] == "<html>busy</html>"
    error = adapter().map_error(400, {}, b'{"__type": "com.amazon#ThrottlingException", "message": "slow"}', "x")
    assert (error.status, error.retryable) == (429, True)
