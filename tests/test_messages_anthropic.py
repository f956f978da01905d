"""Claude on Anthropic's own API through /messages, read by the official `anthropic` SDK: the client's body
reaches Anthropic as sent (only `model` rewritten), the answer and the stream come back as Anthropic sent them,
with the booked usage and cost in the answer's `usage` and the stream's last `message_delta`."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.accounting import exact_json
from tests.anthropic_cases import (
    message_body,
    message_end,
    message_start,
    sse,
    text_block,
    tool_block,
)
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import UPSTREAM_KEY, RunningGateway
from tests.messages_cases import (
    ANTHROPIC_HOSTED,
    MESSAGES_PATH,
    SONNET_4,
    anthropic_base,
    cost_of,
    sdk,
    sse_events,
)

WEATHER = {"name": "get_weather", "description": "Weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _generation(gateway: RunningGateway, generation_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {gateway.key}"}) as http:
        answer = http.get("/generation", params={"id": generation_id})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = exact_json(answer.text)["data"]
    return data


def test_body_reaches_anthropic_byte_for_byte_but_the_model(gateway: RunningGateway,
                                                          fake_upstream: FakeUpstream) -> None:
    """Odd spacing, key order, escaped and raw non-ASCII, unknown fields, cache_control: all as sent."""
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "Bonjour"}])), path=MESSAGES_PATH)
    sent = ('{ "max_tokens" : 64,\n "model":"anthropic/claude-opus-5.5", "messages": [{"role": "user", '
            '"content": [{"type":"text","text":"caf\\u00e9 et thé","cache_control":{"type":"ephemeral",'
            '"ttl":"1h"}}]}],"metadata":{"user_id":"u-1"},"context_management":{"edits":[]} }').encode()
    answer = httpx.post(f"{anthropic_base(gateway)}/v1/messages", content=sent, timeout=20,
                        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01",
                                 "anthropic-beta": "context-management-2025-06-27", "content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    [received] = fake_upstream.requests
    assert received.body == sent.replace(b'"anthropic/claude-opus-5.5"', b'"claude-opus-5-5"')
    assert received.headers["x-api-key"] == UPSTREAM_KEY and "authorization" not in received.headers
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert received.headers["anthropic-beta"] == "context-management-2025-06-27"


def test_create_answers_as_anthropic_did_with_the_booked_cost(gateway: RunningGateway,
                                                             fake_upstream: FakeUpstream) -> None:
    upstream = message_body([{"type": "text", "text": "Hello!"}], input_tokens=12, output_tokens=6,
                            cache_read_input_tokens=100, cache_creation_input_tokens=40)
    fake_upstream.reply(Reply.json(upstream), path=MESSAGES_PATH)
    raw = sdk(gateway).messages.with_raw_response.create(
        model="anthropic/claude-sonnet-4-0", max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
    message = raw.parse()
    assert message.content[0].text == "Hello!"  # type: ignore[union-attr]
    assert (message.id, message.model, message.stop_reason) == ("msg_synth", "claude-sonnet-4-0", "end_turn")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 6)
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (100, 40)
    told = Decimal(str(exact_json(raw.http_response.text)["usage"]["cost"]))
    assert told == cost_of(12, 6, cache_write=40, cache_read=100, prices=SONNET_4)
    generation_id = raw.headers["x-generation-id"]
    assert raw.headers["request-id"] == generation_id and message._request_id == generation_id
    booked = _generation(gateway, generation_id)
    assert Decimal(str(booked["total_cost"])) == told
    assert (booked["tokens_prompt"], booked["tokens_completion"]) == (152, 6)
    assert booked["model"] == "anthropic/claude-sonnet-4-0" and booked["provider_name"] == "anthropic"


def test_stream_helper_relays_the_stream_and_tells_the_cost(gateway: RunningGateway,
                                                           fake_upstream: FakeUpstream) -> None:
    events = [message_start(input_tokens=20), sse("ping", {}), *text_block(0, "Hel", "lo"),
              *message_end(output_tokens=9)]
    fake_upstream.reply(Reply.sse(events), path=MESSAGES_PATH)
    with sdk(gateway).messages.stream(model=ANTHROPIC_HOSTED, max_tokens=100,
                                      messages=[{"role": "user", "content": "Hi"}]) as stream:
        deltas = [event for event in stream if event.type == "message_delta"]
        final = stream.get_final_message()
        generation_id = stream.response.headers["x-generation-id"]
    assert final.content[0].text == "Hello" and final.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (20, 9)
    [delta] = deltas
    told = Decimal(str((delta.usage.model_extra or {})["cost"]))
    assert told == cost_of(20, 9)
    assert Decimal(str(_generation(gateway, generation_id)["total_cost"])) == told
    [received] = fake_upstream.requests
    assert received.json()["stream"] is True and received.json()["model"] == "claude-opus-5-5"


def test_raw_stream_keeps_every_event_in_order(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    events = [message_start(), *text_block(0, "Checking."), *tool_block(1, "toolu_1", "get_weather", '{"ci',
                                                                         'ty": "Paris"}'),
              *message_end("tool_use", 30)]
    fake_upstream.reply(Reply.sse(events, chunk_delay=0.005), path=MESSAGES_PATH)
    body = {"model": ANTHROPIC_HOSTED, "max_tokens": 100, "stream": True, "tools": [WEATHER],
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    answer = httpx.post(f"{anthropic_base(gateway)}/v1/messages", json=body, timeout=20,
                        headers={"authorization": f"Bearer {gateway.key}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in sse_events(answer.text)]
    assert names == ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    assert "[DONE]" not in answer.text  # Anthropic's streams end on message_stop, with no OpenAI end marker
    upstream = [json.loads(e.split("data: ", 1)[1]) for e in events]
    relayed = [payload for _, payload in sse_events(answer.text)]
    assert relayed[:8] == [exact_json(json.dumps(u)) for u in upstream[:8]]
    delta = relayed[8]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 30 and delta["usage"]["input_tokens"] == 10
    assert Decimal(str(delta["usage"]["cost"])) == cost_of(10, 30)  # claude-opus-5-5


@pytest.mark.parametrize("model", ["claude-opus-5-5", "anthropic/claude-opus-5.5", "anthropic/claude-opus-5.5:floor"])
def test_model_names_anthropic_and_openrouter_resolve(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                      model: str) -> None:
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "ok"}])), path=MESSAGES_PATH)
    sdk(gateway).messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert fake_upstream.requests[0].json()["model"] == "claude-opus-5-5"


def test_cache_control_and_thinking_signatures_survive_a_multi_turn_conversation(
        gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    thinking = {"type": "thinking", "thinking": "Paris, so the weather tool.", "signature": "EqQBCkgIARABGAIiQL=="}
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr"}
    call = {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}}
    fake_upstream.reply(Reply.json(message_body([thinking, redacted, call], "tool_use",
                                                cache_creation_input_tokens=2000)), path=MESSAGES_PATH)
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "Sunny, 24°C."}],
                                                cache_read_input_tokens=2000)), path=MESSAGES_PATH)
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "You're welcome."}],
                                                cache_read_input_tokens=2100)), path=MESSAGES_PATH)
    client = sdk(gateway)
    system: Any = [{"type": "text", "text": "You are a weather bot. " * 50, "cache_control": {"type": "ephemeral"}}]
    options: Any = {"model": ANTHROPIC_HOSTED, "max_tokens": 4096, "system": system, "tools": [WEATHER],
                    "thinking": {"type": "enabled", "budget_tokens": 2048},
                    "extra_headers": {"anthropic-beta": "interleaved-thinking-2025-05-14"}}
    history: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(messages=history, **options)
    assert [b.type for b in first.content] == ["thinking", "redacted_thinking", "tool_use"]
    history += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "24°C",
                                              "cache_control": {"type": "ephemeral"}}]}]
    second = client.messages.create(messages=history, **options)
    history += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in second.content]},
                {"role": "user", "content": "Thanks!"}]
    client.messages.create(messages=history, **options)
    sent = [r.json() for r in fake_upstream.requests]
    assert [len(s["messages"]) for s in sent] == [1, 3, 5]
    for body in sent:
        assert body["system"] == system and body["tools"] == [WEATHER] and body["model"] == "claude-opus-5-5"
    assert sent[2]["messages"][1]["content"] == [thinking, redacted, call]  # byte for byte as Anthropic sent them
    assert sent[2]["messages"][2]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert all(r.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14" for r in fake_upstream.requests)
