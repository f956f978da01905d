"""The Anthropic dialect's pure pieces: the request schema, model names, the error table, the gateway's events
rendered as Messages (held to the `anthropic` SDK's own response types), and the body edited in place."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    ImageDelta,
    ReasoningDelta,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UpstreamInfo,
    UsageReport,
)
from lambdarouter.dialects.anthropic.errors import error_body, status_and_type
from lambdarouter.dialects.anthropic.models import catalog_id, openrouter_spelling
from lambdarouter.dialects.anthropic.reasoning import unwrap
from lambdarouter.dialects.anthropic.request import CountTokensRequest, MessagesRequest, parse
from lambdarouter.dialects.anthropic.size import estimated_tokens, measure
from lambdarouter.dialects.anthropic.stream import Event, MessageRenderer, fold
from lambdarouter.providers.anthropic.body import members, rebuilt, with_value

STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
USAGE = TokenUsage(prompt_tokens=120, completion_tokens=30, cached_tokens=100, cache_write_tokens=5)
GEMINI_SIGNATURE = {"type": "reasoning.encrypted", "data": "CiQBsig", "format": "google-gemini-v1", "id": "call_1",
                    "index": 0}


def _rendered(*events: Any, error: GatewayError | None = None) -> list[Event]:
    renderer = MessageRenderer("gen-1", "openai/gpt-4o")
    out = [e for event in events for e in renderer.feed(event)]
    return [*out, *renderer.end(USAGE, Decimal("0.000123"), error)]


def test_request_keeps_unknown_fields_and_blocks() -> None:
    body = {"model": "claude-opus-5-5", "max_tokens": 10, "context_management": {"edits": []},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {
                "type": "ephemeral"}}, {"type": "search_result", "source": "s", "title": "t", "content": []}]},
                         {"role": "system", "content": "mid-conversation system turn"}]}
    request: MessagesRequest = parse(MessagesRequest, json.dumps(body).encode())
    assert request.model_extra == {"context_management": {"edits": []}}
    assert [b.type for b in request.messages[0].content] == ["text", "search_result"]  # type: ignore[union-attr]
    assert request.messages[1].role == "system"


@pytest.mark.parametrize(("body", "message"), [
    ({"model": "m", "messages": []}, "max_tokens: Field required"),
    ({"model": "m", "max_tokens": 0, "messages": []}, "max_tokens: Input should be greater than or equal to 1"),
    ({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image"}]}]},
     "messages.0.content.0.source: Field required"),
    ({"model": "m", "max_tokens": 5, "top_p": 2, "messages": []}, "top_p: Input should be less than or equal to 1"),
])
def test_request_errors_say_where(body: dict[str, Any], message: str) -> None:
    with pytest.raises(GatewayError) as raised:
        parse(MessagesRequest, json.dumps(body).encode())
    assert raised.value.status == 400 and raised.value.message == message


@pytest.mark.parametrize(("name", "expected"), [
    ("claude-opus-5-5", "anthropic/claude-opus-5.5"),
    ("claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4.5"),
    ("claude-sonnet-4-5", "anthropic/claude-sonnet-4.5"),
    ("claude-haiku-4-5", "anthropic/claude-haiku-4.5"),
    ("claude-opus-4-1-20250805", "anthropic/claude-opus-4.1"),
    ("claude-sonnet-4-20250514", "anthropic/claude-sonnet-4"),
    ("claude-3-5-sonnet-20241022", "anthropic/claude-3.5-sonnet"),
    ("claude-3-opus-20240229", "anthropic/claude-3-opus"),
    ("us.anthropic.claude-sonnet-4-6", "anthropic/claude-sonnet-4.6"),
    ("openai/gpt-4o", "openai/gpt-4o"),
])
def test_anthropic_model_names_resolve_through_the_catalog(name: str, expected: str) -> None:
    assert catalog_id(name, load_catalog()) == expected


def test_an_unknown_model_is_anthropics_404() -> None:
    with pytest.raises(GatewayError) as raised:
        catalog_id("claude-nonesuch-1", load_catalog())
    assert (raised.value.status, raised.value.message) == (404, "model: claude-nonesuch-1")
    assert openrouter_spelling("gpt-4o") is None


@pytest.mark.parametrize(("error", "expected"), [
    (GatewayError(402, "no credit"), (402, "billing_error")),
    (GatewayError(408, "slow"), (504, "timeout_error")),
    (GatewayError(502, "x", metadata={"status": 529}), (529, "overloaded_error")),
    (GatewayError(502, "x", metadata={"raw": {"type": "error", "error": {"type": "overloaded_error"}}}),
     (529, "overloaded_error")),
    (GatewayError(502, "x", metadata={"status": 500}), (500, "api_error")),
    (GatewayError(503, "store", headers={"retry-after": "1"}), (529, "overloaded_error")),
    (GatewayError(503, "Provider openai is not configured: set OPENAI_API_KEY."), (500, "api_error")),
    (GatewayError(422, "idempotency"), (422, "invalid_request_error")),
    (GatewayError(500, "Internal error."), (500, "api_error")),
])
def test_error_statuses_are_anthropics(error: GatewayError, expected: tuple[int, str]) -> None:
    assert status_and_type(error) == expected
    assert error_body(error) == {"type": "error", "error": {"type": expected[1], "message": error.message}}


def test_events_render_as_a_stream_the_sdk_parses_and_fold_into_its_message() -> None:
    events = _rendered(
        UpstreamInfo(model="gpt-4o", id="chatcmpl-1"), ReasoningDelta(text="Let me "), ReasoningDelta(text="see."),
        ReasoningDelta(detail={"type": "reasoning.text", "text": "Let me see.", "signature": "sig==",
                               "format": "anthropic-claude-v1"}),
        TextDelta("Calling."), ToolCallDelta(0, "call_1", "get_weather", '{"city": '),
        ToolCallDelta(0, arguments='"Paris"}'),
        ToolCallDelta(1, "call_2", "get_time", "{}"), ImageDelta("data:image/png;base64,AAAA"),
        Finish("tool_calls", "tool_calls"), UsageReport(USAGE))
    for _, payload in events:
        STREAM_EVENT.validate_python(payload)
    assert [name for name, _ in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
        "content_block_stop", "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    message = fold(events)
    Message.model_validate(message)
    assert message["content"] == [
        {"type": "thinking", "thinking": "Let me see.", "signature": "sig=="}, {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}}]
    assert message["stop_reason"] == "tool_use" and message["id"] == "gen-1" and message["model"] == "openai/gpt-4o"
    assert message["usage"] == {"input_tokens": 15, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 100,
                                "cache_creation": {"ephemeral_5m_input_tokens": 5, "ephemeral_1h_input_tokens": 0},
                                "output_tokens": 30, "cost": 0.000123}


def test_another_providers_reasoning_travels_in_a_redacted_block_and_comes_back_whole() -> None:
    message = fold(_rendered(ReasoningDelta(detail=GEMINI_SIGNATURE), ToolCallDelta(0, "call_1", "f", "{}"),
                             Finish("tool_calls")))
    redacted = message["content"][0]
    assert redacted["type"] == "redacted_thinking" and unwrap(redacted["data"]) == GEMINI_SIGNATURE
    Message.model_validate(message)


def test_a_stream_failing_ends_without_a_stop_and_an_empty_answer_is_still_a_message() -> None:
    failed = _rendered(TextDelta("Hal"), error=GatewayError(502, "gone"))
    assert [name for name, _ in failed][-1] == "message_delta" and failed[-1][1]["delta"]["stop_reason"] is None
    empty = fold(_rendered(Finish("stop"), UsageReport(USAGE)))
    assert empty["content"] == [] and empty["stop_reason"] == "end_turn"
    Message.model_validate(empty)


def test_a_tool_call_resumed_after_another_started_is_an_upstream_fault() -> None:
    renderer = MessageRenderer("gen-1", "m")
    renderer.feed(ToolCallDelta(0, "a", "f", "{"))
    renderer.feed(ToolCallDelta(1, "b", "g", "{}"))
    with pytest.raises(GatewayError) as raised:
        renderer.feed(ToolCallDelta(0, arguments="}"))
    assert raised.value.status == 502 and raised.value.retryable


def test_body_edits_change_only_what_they_name() -> None:
    body = '{"model" : "a/b","x":[1, {"model":"inner"}],\n "model":"dup", "y": "é\\u00e9"}'.encode()
    assert [m.key for m in members(body.decode())] == ["model", "x", "model", "y"]
    assert with_value(body, "model", "claude-x") == body.replace(b'"a/b"', b'"claude-x"').replace(b'"dup"',
                                                                                               b'"claude-x"')
    assert json.loads(rebuilt(body, frozenset({"model"}), {"z": 1})) == {"x": [1, {"model": "inner"}], "y": "éé",
                                                                         "z": 1}


def test_prompt_size_leaves_image_bytes_out_and_counts_what_the_model_reads() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 40000}}
    body = json.dumps({"model": "m", "system": "Be brief.", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "x" * 400}, image]}]}).encode()
    request: CountTokensRequest = parse(CountTokensRequest, body)
    size = measure(request, body)
    assert size.images == 1 and size.text_bytes < 1000 and size.text_chars == 409
    assert estimated_tokens(size) == 103 + 4 * 2 + 1600
