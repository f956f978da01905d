"""The money of /messages: what the client is told it cost (the answer's `usage.cost`, the stream's last
`message_delta`, /generation) is what the ledger booked and the key was charged, streamed or not, failed after
its first byte, or abandoned by the client halfway."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from tests.accounting import exact_json, key_record, new_key, wait_for_records
from tests.anthropic_cases import message_body, message_end, message_start, sse, text_block
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.messages_cases import ANTHROPIC_HOSTED, MESSAGES_PATH, anthropic_base, cost_of, sse_events

ASK: dict[str, Any] = {"model": ANTHROPIC_HOSTED, "max_tokens": 200, "messages": [{"role": "user", "content": "Hi"}]}


def _client(gateway: RunningGateway, key: str) -> httpx.Client:
    return httpx.Client(base_url=anthropic_base(gateway), timeout=20, headers={"x-api-key": key})


def _told_by_stream(text: str) -> Decimal:
    deltas = [payload for name, payload in sse_events(text) if name == "message_delta"]
    assert len(deltas) == 1, text
    return Decimal(str(deltas[0]["usage"]["cost"]))


def _told_by_generation(gateway: RunningGateway, key: str, generation_id: str) -> Decimal:
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {key}"}) as http:
        data = exact_json(http.get("/generation", params={"id": generation_id}).text)["data"]
    return Decimal(str(data["total_cost"]))


def test_told_equals_booked_streamed_and_not(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    told: dict[str, Decimal] = {}
    with _client(gateway, plaintext) as client:
        fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "Hi!"}], input_tokens=31,
                                                    output_tokens=7, cache_read_input_tokens=1000,
                                                    cache_creation_input_tokens=300)), path=MESSAGES_PATH)
        whole = client.post("/v1/messages", json=ASK)
        told[whole.headers["x-generation-id"]] = Decimal(str(exact_json(whole.text)["usage"]["cost"]))
        start = message_start(input_tokens=12)
        fake_upstream.reply(Reply.sse([start.replace('"cache_read_input_tokens": 0', '"cache_read_input_tokens": 500'),
                                       *text_block(0, "Hel", "lo"), *message_end(output_tokens=9)]),
                            path=MESSAGES_PATH)
        with client.stream("POST", "/v1/messages", json={**ASK, "stream": True}) as streamed:
            told[streamed.headers["x-generation-id"]] = _told_by_stream(streamed.read().decode())
    assert list(told.values()) == [cost_of(31, 7, cache_write=300, cache_read=1000), cost_of(12, 9, cache_read=500)]
    records = {r.id: r for r in wait_for_records(gateway, key_hash, 2)}
    assert {i: r.cost for i, r in records.items()} == told
    assert {i: _told_by_generation(gateway, plaintext, i) for i in told} == told
    key = key_record(gateway, key_hash)
    assert key.usage == sum(told.values()) and key.holds == ()
    assert {(r.cached_tokens, r.cache_write_tokens) for r in records.values()} == {(1000, 300), (500, 0)}


def test_stream_failing_midway_tells_what_it_charged(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.sse([message_start(input_tokens=40), *text_block(0, "partial answer")[:2],
                                   sse("error", {"error": {"type": "api_error", "message": "boom"}})]),
                        path=MESSAGES_PATH)
    with _client(gateway, plaintext) as client, client.stream("POST", "/v1/messages",
                                                              json={**ASK, "stream": True}) as streamed:
        generation_id, text = streamed.headers["x-generation-id"], streamed.read().decode()
    assert [name for name, _ in sse_events(text)][-2:] == ["message_delta", "error"]
    told = _told_by_stream(text)
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.id == generation_id and record.status == "error" and record.cost == told > 0
    assert record.prompt_tokens == 40 and record.completion_tokens >= 1
    assert _told_by_generation(gateway, plaintext, generation_id) == told


def test_stream_the_client_abandons_is_charged_for_what_was_produced(gateway: RunningGateway,
                                                                   fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    words = [f"word{i} " * 10 for i in range(12)]
    fake_upstream.reply(Reply.sse([message_start(input_tokens=50), *text_block(0, *words), *message_end(
        output_tokens=999)], chunk_delay=0.25), path=MESSAGES_PATH)
    deltas = 0
    with _client(gateway, plaintext) as client, client.stream("POST", "/v1/messages",
                                                              json={**ASK, "stream": True}) as streamed:
        generation_id = streamed.headers["x-generation-id"]
        for line in streamed.iter_lines():
            deltas += '"text_delta"' in line
            if deltas == 3:
                break  # the client goes away halfway
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.id == generation_id and record.status == "aborted" and record.usage_estimated
    # Anthropic's message_start says output_tokens 1: the text produced is what is charged, not that placeholder.
    produced = len("".join(words[:3])) // 4
    assert produced <= record.completion_tokens < 999
    assert record.prompt_tokens == 50 and record.cost == cost_of(50, record.completion_tokens)
    assert _told_by_generation(gateway, plaintext, generation_id) == record.cost
    key = key_record(gateway, key_hash)
    assert key.usage == record.cost and key.holds == ()


def test_idempotent_answer_is_replayed_and_charged_once(gateway: RunningGateway,
                                                         fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "once"}])), path=MESSAGES_PATH)
    with _client(gateway, plaintext) as client:
        first = client.post("/v1/messages", json=ASK, headers={"idempotency-key": "turn-1"})
        again = client.post("/v1/messages", json=ASK, headers={"idempotency-key": "turn-1"})
        other = client.post("/v1/messages", content=json.dumps({**ASK, "max_tokens": 5}),
                            headers={"idempotency-key": "turn-1", "content-type": "application/json"})
    assert first.status_code == again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.headers["x-generation-id"] == first.headers["x-generation-id"]
    assert other.status_code == 422 and other.json()["type"] == "error"
    assert len(fake_upstream.requests) == 1
    assert len(wait_for_records(gateway, key_hash, 1)) == 1
