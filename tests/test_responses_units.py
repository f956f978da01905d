"""The Responses dialect without a network: the translation of items and tools, the carrier of signed reasoning,
the renderer's events (validated against the `openai` SDK's own types) and its fold, and the native
passthrough's request rewrite and stream reading."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.conversation import (
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    ImagePart,
    JsonSchemaFormat,
    NamedTool,
    Origin,
    Reasoning,
    ReasoningPart,
    Sampling,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UsageReport,
)
from lambdarouter.core.hosts import BUILTIN_HOSTS, ResolvedHost
from lambdarouter.dialects.openrouter.assemble import Identity
from lambdarouter.dialects.responses.answer import echo_of, usage_body
from lambdarouter.dialects.responses.reasoning import carry, details_of
from lambdarouter.dialects.responses.render import ResponseRenderer
from lambdarouter.dialects.responses.request import ResponsesRequest
from lambdarouter.dialects.responses.translate import translate
from lambdarouter.gateway.responses import NativeStream
from lambdarouter.gateway.upstream import parsed
from lambdarouter.providers.openai.responses import (
    NativeEvent,
    ResponsesCall,
    ResponsesStreamDecoder,
    build_request,
    events_of,
    parse_response,
)
from tests.fakes import openai_responses as fake
from tests.responses_cases import assert_valid_stream

IDENTITY = Identity("gen-1-abc", 1760000000, "anthropic/claude-sonnet-4.5", "anthropic")
SIGNED = {"type": "reasoning.text", "text": "Think.", "signature": "c2lnbmF0dXJl", "format": "anthropic-claude-v1"}


def request(**fields: Any) -> ResponsesRequest:
    return ResponsesRequest.model_validate({"model": "anthropic/claude-sonnet-4.5", "input": "hi", **fields})


# -- translation ---------------------------------------------------------------------------------------------------
def test_a_conversation_becomes_messages_with_assistant_runs_grouped() -> None:
    translated = translate(request(instructions="Be brief.", input=[
        {"role": "developer", "content": "Use metric units."},
        {"role": "user", "content": [{"type": "input_text", "text": "Weather?"},
                                     {"type": "input_image", "image_url": "https://example.com/a.png",
                                      "detail": "original"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": carry([SIGNED])},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "get_time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "18°C"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "noon"}]},
    ]), b'{"raw": true}').request
    assert [m.role for m in translated.messages] == ["system", "developer", "user", "assistant", "tool", "tool"]
    assert translated.origin == Origin(OPENAI_RESPONSES, b'{"raw": true}')
    assistant = translated.messages[3].parts
    assert [type(p) for p in assistant] == [ReasoningPart, TextPart, ToolCallPart, ToolCallPart]
    assert assistant[0] == ReasoningPart(text="Think.", signature="c2lnbmF0dXJl", format="anthropic-claude-v1")
    assert [p.id for p in assistant if isinstance(p, ToolCallPart)] == ["c1", "c2"]
    assert translated.messages[2].parts[1] == ImagePart("https://example.com/a.png", "high")
    result = translated.messages[5].parts[0]
    assert isinstance(result, ToolResultPart) and result.call_id == "c2" and result.content == (TextPart("noon"),)


def test_openai_encrypted_reasoning_is_not_a_signature_for_another_provider() -> None:
    translated = translate(request(input=[
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Hmm."}],
         "encrypted_content": "gAAAAB-openai-blob"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]},
    ])).request
    assert translated.messages[1].parts == (ReasoningPart(summary="Hmm."), TextPart("Hello"))


def test_options_map_onto_the_canonical_request() -> None:
    translated = translate(request(
        max_output_tokens=300, temperature=0.2, top_p=0.9, top_k=5, metadata={"team": "a"}, safety_identifier="u-1",
        reasoning={"effort": "xhigh", "summary": "auto", "exclude": True},
        text={"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}, "verbosity": "low"},
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}],
        tool_choice={"type": "function", "name": "f"}, parallel_tool_calls=False, models=["openai/gpt-5"],
        provider={"sort": "price"})).request
    assert translated.max_output_tokens == 300 and translated.user == "u-1" and translated.metadata == {"team": "a"}
    assert translated.sampling == Sampling(temperature=0.2, top_p=0.9, top_k=5)
    assert translated.reasoning == Reasoning(effort="xhigh", exclude=True, summary="auto")
    assert translated.output == JsonSchemaFormat("w", {"type": "object"})
    assert translated.tools == (Tool("f", None, {"type": "object", "properties": {}}),)
    assert translated.tool_choice == NamedTool("f") and translated.parallel_tool_calls is False
    assert translated.extensions == {OPENAI_CHAT: {"verbosity": "low"}}
    off = translate(request(reasoning={"effort": "none"})).request.reasoning
    assert off is not None and off.enabled is False and off.effort == "none"


def test_a_namespace_is_offered_flat_and_named_back() -> None:
    translation = translate(request(tools=[{"type": "namespace", "name": "crm", "description": "CRM", "tools": [
        {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}]}]))
    assert [t.name for t in translation.request.tools] == ["crm__lookup"]
    assert translation.tool_names == {"crm__lookup": ("crm", "lookup")}
    renderer = ResponseRenderer({}, translation.tool_names)
    renderer.render(IDENTITY, ToolCallDelta(0, "call_1", "crm__lookup", "{}"))
    renderer.close_all()
    item = renderer.response(IDENTITY, None, None, 1)["output"][0]
    assert (item["namespace"], item["name"]) == ("crm", "lookup")
    back = translate(request(input=[{"type": "function_call", "call_id": "call_1", "namespace": "crm",
                                     "name": "lookup", "arguments": "{}"}])).request.messages[0]
    assert back.parts == (ToolCallPart("call_1", "crm__lookup", "{}"),)


@pytest.mark.parametrize(("fields", "named"), [
    ({"tools": [{"type": "web_search"}]}, "'web_search'"),
    ({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}, "'code_interpreter'"),
    ({"tools": [{"type": "custom", "name": "apply_patch"}]}, "'apply_patch'"),
    ({"input": [{"type": "web_search_call", "id": "ws_1", "status": "completed"}]}, "'web_search_call'"),
    ({"tool_choice": {"type": "file_search"}, "tools": [{"type": "function", "name": "f"}]}, "'file_search'"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]}, "file_id"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_url": "https://x/y.pdf"}]}]}, "file_url"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt"),
])
def test_what_only_openai_serves_is_a_400_naming_it(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(GatewayError) as refused:
        translate(request(**fields))
    assert refused.value.status == 400 and named in refused.value.message


def test_the_reasoning_carrier_round_trips_and_rejects_anything_else() -> None:
    carried = carry([SIGNED, {"type": "reasoning.encrypted", "data": "ÿ", "id": "call_1"}])
    assert carried is not None and details_of(carried)[1]["data"] == "ÿ"
    assert carry([]) is None
    assert details_of("gAAAAB-openai-blob") == [] and details_of("lrd1.!!!") == [] and details_of(None) == []


# -- rendering -----------------------------------------------------------------------------------------------------
USAGE = TokenUsage(10, 5)


def rendered(events: list[StreamEvent], usage: TokenUsage = USAGE, error: GatewayError | None = None,
             echo: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the stream, the folded answer) of the same events."""
    echo = echo or echo_of(request())
    streamer = ResponseRenderer(echo)
    stream = [e for event in events for e in streamer.render(IDENTITY, event)]
    stream += streamer.ending(IDENTITY, usage_body(usage, Decimal("0.0001")), error, 1760000001)
    folder = ResponseRenderer(echo)
    for event in events:
        folder.render(IDENTITY, event)
    folder.close_all(error)
    return stream, folder.response(IDENTITY, usage_body(usage, Decimal("0.0001")), error, 1760000001)


def same_but_item_ids(streamed: dict[str, Any], folded: dict[str, Any]) -> bool:
    """Two renderings of one answer: equal but for their output items' new ids."""
    def without(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "output": [{k: v for k, v in item.items() if k != "id"} for item in body["output"]]}
    return without(streamed) == without(folded)


def test_a_stream_of_every_kind_validates_and_folds_to_the_same_answer() -> None:
    events: list[StreamEvent] = [
        ReasoningDelta(text="Let me "), ReasoningDelta(text="think."), ReasoningDelta(detail=SIGNED),
        TextDelta("Two calls:"), RefusalDelta("not that"), TextDelta(" here."),
        ToolCallDelta(0, "call_a", "get_weather", '{"ci'), ToolCallDelta(1, "call_b", "get_time", "{}"),
        ToolCallDelta(0, arguments='ty":"Paris"}'), Finish("tool_calls"), UsageReport(TokenUsage(10, 5)),
    ]
    stream, folded = rendered(events, echo=echo_of(request(tools=[{"type": "function", "name": "get_weather"}])))
    final = assert_valid_stream(stream)
    assert same_but_item_ids(final.model_dump(mode="json", exclude_none=True),
                             Response.model_validate(folded).model_dump(mode="json", exclude_none=True))
    types = [item.type for item in final.output]
    assert types == ["reasoning", "message", "function_call", "function_call"]
    message = final.output[1]
    assert message.type == "message" and [p.type for p in message.content] == ["output_text", "refusal",
                                                                                "output_text"]
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.call_id, c.arguments) for c in calls] == [("call_a", '{"city":"Paris"}'), ("call_b", "{}")]
    assert details_of(final.output[0].encrypted_content) == [SIGNED]  # type: ignore[union-attr]
    assert final.output_text == "Two calls: here." and folded["output_text"] == "Two calls: here."


def test_calls_without_an_id_or_with_a_repeated_one_get_their_own() -> None:
    stream, folded = rendered([ToolCallDelta(0, None, "f", "{}"), ToolCallDelta(1, "dup", "f", "{}"),
                               ToolCallDelta(2, "dup", "f", "{}"), Finish("tool_calls")])
    assert_valid_stream(stream)
    ids = [item["call_id"] for item in folded["output"]]
    assert len(set(ids)) == 3 and ids[1] == "dup"


def test_a_cut_off_answer_is_incomplete_and_a_failed_one_failed() -> None:
    stream, folded = rendered([TextDelta("Once upon"), Finish("length", "max_tokens")])
    assert assert_valid_stream(stream).status == "incomplete"
    assert folded["incomplete_details"] == {"reason": "max_output_tokens"}
    assert stream[-1]["type"] == "response.incomplete"
    error = GatewayError(502, "anthropic: overloaded", metadata={"provider_name": "anthropic"})
    stream, folded = rendered([TextDelta("Once")], error=error)
    failed = assert_valid_stream(stream)
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "server_error"
    assert stream[-1]["response"]["usage"]["cost"] == 0.0001  # what was produced is still told and charged
    assert folded["output"][0]["status"] == "incomplete"


def test_an_empty_answer_still_opens_and_ends_its_stream() -> None:
    stream, folded = rendered([Finish("stop")])
    assert [e["type"] for e in stream] == ["response.created", "response.in_progress", "response.completed"]
    assert folded["output"] == [] and folded["output_text"] == ""


def test_excluded_reasoning_is_not_shown() -> None:
    renderer = ResponseRenderer({}, show_reasoning=False)
    assert renderer.render(IDENTITY, ReasoningDelta(text="secret")) == []


# -- the native passthrough ----------------------------------------------------------------------------------------
def native_call(body: dict[str, Any], parameters: tuple[str, ...] = ("reasoning", "tools")) -> dict[str, Any]:
    endpoint = EndpointSpec(host="openai", upstream_id="gpt-5", context_length=1000, prompt=Decimal(0),
                            completion=Decimal(0))
    host = ResolvedHost(BUILTIN_HOSTS[0], "https://api.openai.com/v1", "sk-test")
    sent = build_request(ResponsesCall(body, endpoint, host, frozenset(parameters), stream=True))
    assert sent.url == "https://api.openai.com/v1/responses" and sent.headers["authorization"] == "Bearer sk-test"
    loaded: dict[str, Any] = json.loads(sent.body)
    return loaded


def test_the_native_body_is_the_clients_with_the_gateways_fields_rewritten() -> None:
    body = native_call({
        "model": "openai/gpt-5", "models": ["x"], "provider": {"sort": "price"}, "usage": {"include": True},
        "top_k": 4, "temperature": 0.5, "store": True, "include": ["reasoning.encrypted_content", "x"],
        "prompt_cache_key": "k", "client_metadata": {"a": "b"}, "tools": [{"type": "web_search"}],
        "input": [{"role": "user", "content": "hi"},
                  {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": carry([SIGNED])},
                  {"type": "reasoning", "id": "rs_o", "summary": [], "encrypted_content": "gAAAAB"}],
    })
    assert body["model"] == "gpt-5" and body["store"] is False and body["stream"] is True
    assert not {"models", "provider", "usage", "top_k", "temperature"} & set(body)
    assert body["include"] == ["x", "reasoning.encrypted_content"]
    assert body["prompt_cache_key"] == "k" and body["client_metadata"] == {"a": "b"}
    assert body["tools"] == [{"type": "web_search"}]
    assert [item.get("id") for item in body["input"]] == [None, "rs_o"]  # another provider's reasoning left out
    assert "include" not in native_call({"input": "hi"}, parameters=("tools",))  # not a reasoning model


def decoder_events(chunks: list[bytes]) -> list[NativeEvent]:
    decoder = ResponsesStreamDecoder("openai")
    return [event for chunk in chunks for event in decoder.feed(chunk)] + decoder.close()


def test_the_native_stream_is_read_for_the_books() -> None:
    answer = fake.FakeResponse([fake.reasoning("Hmm"), fake.message("Hi ✓"), fake.function_call("c", "f", "{}")],
                               fake.usage(20, 10, cached=5, reasoning_tokens=3))
    raw = [fake.sse(event).encode() for event in answer.events()] + [b"data: [DONE]\n\n"]
    events = decoder_events([b"".join(raw)[i:i + 7] for i in range(0, len(b"".join(raw)), 7)])
    counted = [e for event in events for e in event.counted]
    assert "".join(e.text for e in counted if isinstance(e, TextDelta)) == "Hi ✓"
    assert "".join(e.text or "" for e in counted if isinstance(e, ReasoningDelta)) == "Hmm"
    assert [e for e in counted if isinstance(e, Finish)] == [Finish("tool_calls", "completed")]
    assert [e.usage for e in counted if isinstance(e, UsageReport)] == [TokenUsage(20, 10, 5, 0, 3)]
    whole = [e for e in events_of(answer.body()) if not isinstance(e, ToolCallDelta)]
    assert [e for e in whole if isinstance(e, UsageReport)] == [UsageReport(TokenUsage(20, 10, 5, 0, 3))]


def test_a_native_error_event_fails_the_stream_after_what_came_before() -> None:
    decoder = ResponsesStreamDecoder("openai")
    first = fake.FakeResponse([fake.message("Hi")]).events()[:3]
    error = {"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "sequence_number": 3}
    events = decoder.feed(b"".join(fake.sse(e).encode() for e in [*first, error]))
    assert [e.type for e in events] == [e["type"] for e in first]
    with pytest.raises(GatewayError) as failed:
        decoder.close()
    assert failed.value.status == 429 and failed.value.retryable and "slow down" in failed.value.message


def test_a_native_stream_cut_before_its_end_is_an_upstream_fault() -> None:
    decoder = ResponsesStreamDecoder("openai")
    decoder.feed(b"".join(fake.sse(e).encode() for e in fake.FakeResponse([fake.message("Hi")]).events()[:4]))
    with pytest.raises(GatewayError) as cut:
        decoder.close()
    assert cut.value.status == 502 and cut.value.retryable


def test_native_lifecycle_events_carry_the_gateways_identity_and_the_booked_usage() -> None:
    answer = fake.FakeResponse([fake.message("Hi")])
    native = [NativeEvent(e["type"], json.dumps(e), e, ()) for e in answer.events()]
    shown = NativeStream({})
    frames = [frame for event in native if (frame := shown.chunk(IDENTITY, event)) is not None]
    assert len(frames) == len(native) - 1  # response.completed waits for the books
    created = json.loads(frames[0].body.decode().split("data: ", 1)[1])
    assert created["response"]["id"] == IDENTITY.id and created["response"]["model"] == IDENTITY.model
    assert frames[3].body.decode().endswith(f"data: {native[3].data}\n\n")  # the rest as OpenAI sent it
    usage = usage_body(TokenUsage(20, 10), Decimal("0.5"))
    (completed,) = shown.ending(IDENTITY, usage, None, 1)
    assert completed["sequence_number"] == native[-1].parsed["sequence_number"]
    assert completed["response"]["usage"]["cost"] == 0.5 and completed["response"]["id"] == IDENTITY.id
    (failed,) = NativeStream({}).ending(IDENTITY, usage, GatewayError(502, "cut"), 1)
    assert failed["type"] == "response.failed" and failed["response"]["error"]["message"] == "cut"


# -- an upstream's odd shapes: a clear upstream error, never a crash -----------------------------------------------
JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=8)
KINDS = ["response.created", "response.in_progress", "response.output_item.added", "response.output_item.done",
         "response.output_text.delta", "response.function_call_arguments.delta", "response.reasoning_text.delta",
         "response.completed", "response.incomplete", "response.failed", "error", "[DONE]"]
FIELDS = st.dictionaries(st.sampled_from(["response", "item", "delta", "output_index", "sequence_number", "usage",
                                          "output", "status", "code", "message"]), JSON, max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), FIELDS), max_size=6))
def test_odd_native_streams_end_in_events_or_an_upstream_error(stream: list[tuple[str, dict[str, Any]]]) -> None:
    decoder, shown = ResponsesStreamDecoder("openai"), NativeStream({})
    status = 200
    try:
        for kind, fields in stream:
            data = "[DONE]" if kind == "[DONE]" else json.dumps({"type": kind, **fields})
            for native in decoder.feed(f"data: {data}\n\n".encode()):
                shown.chunk(IDENTITY, native)
        decoder.close()
    except GatewayError as exc:
        status = exc.status
    assert status in (200, 429, 502)
    shown.ending(IDENTITY, usage_body(USAGE, Decimal(0)), None, 1)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["output", "status", "usage", "error", "model", "id", "incomplete_details"]),
                       JSON, max_size=6))
def test_odd_native_answers_are_read_or_an_upstream_error(body: dict[str, Any]) -> None:
    status = 200
    try:
        parsed("openai", parse_response, json.dumps(body).encode(), "openai")
    except GatewayError as exc:
        status = exc.status
    assert status in (200, 429, 502)

