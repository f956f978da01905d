"""What Anthropic bills beyond plain tokens, booked and told: one-hour cache writes (2x the input price where a
five-minute write is 1.25x), server-tool uses (web search, $10 per 1,000), and a stream cut before its
`message_delta`, whose `message_start` carries only a placeholder output count.

Recordings (tests/recordings/anthropic) show the wire: `usage.cache_creation` splits writes by TTL, and
`message_start` says `output_tokens: 1`. No recording has a one-hour write or a server-tool use: those answers are
the recordings with their counts changed (marked "synthesized"), in the shape Anthropic documents
(https://platform.claude.com/docs/en/api/messages, `usage.cache_creation`, `usage.server_tool_use`). Every test
checks that the cost the client was told is the ledger's, /generation's and the key's.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.events import TokenUsage, UsageReport
from lambdarouter.core.pricing import generation_cost
from lambdarouter.providers.anthropic.response import usage_from as anthropic_usage
from lambdarouter.providers.anthropic.stream import AnthropicStreamDecoder
from lambdarouter.providers.bedrock.stream import usage_from as bedrock_usage
from lambdarouter.store.model import GenerationRecord
from tests.accounting import as_key, exact_json, key_record, new_key, streamed_cost, wait_for_records
from tests.anthropic_cases import UPSTREAM_PATH, message_body, openai_request, sse
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, RunningGateway
from tests.messages_cases import ANTHROPIC_HOSTED, MESSAGES_PATH, anthropic_base, sse_events

D = Decimal
SONNET_4_0 = load_catalog(EXTRA_MODELS).models["anthropic/claude-sonnet-4-0"].endpoints[0]
OPUS_5_5 = next(e for e in load_catalog(EXTRA_MODELS).models["anthropic/claude-opus-5.5"].endpoints
                if e.host == "anthropic")
ASK: dict[str, Any] = {"model": ANTHROPIC_HOSTED, "max_tokens": 200, "messages": [{"role": "user", "content": "Hi"}]}
SYSTEM = [{"type": "text", "text": "You answer in French. " * 400, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def _events(recording: str) -> list[str]:
    """A recorded Anthropic stream, one SSE event per item, as sent."""
    text = load_recording(recording).body_bytes().decode()
    return [f"{block}\n\n" for block in text.split("\n\n") if block.strip()]


def _told_by_generation(gateway: RunningGateway, key: str, generation_id: str) -> dict[str, Any]:
    with as_key(gateway, key) as http:
        data: dict[str, Any] = exact_json(http.get("/generation", params={"id": generation_id}).text)["data"]
    return data


def _assert_told_is_booked(gateway: RunningGateway, key: str, key_hash: str,
                           told: dict[str, Decimal]) -> dict[str, GenerationRecord]:
    """Every cost told is the ledger row's and /generation's, and the key was charged their sum, no hold left."""
    records = {r.id: r for r in wait_for_records(gateway, key_hash, len(told))}
    assert {i: r.cost for i, r in records.items()} == told
    assert {i: _told_by_generation(gateway, key, i)["total_cost"] for i in told} == told
    account = key_record(gateway, key_hash)
    assert account.usage == sum(told.values()) and account.holds == ()
    return records


# --- The output placeholder of message_start ---------------------------------------------------------------------


def test_message_start_output_count_is_not_taken_as_a_report() -> None:
    """tests/recordings/anthropic/text-stream: message_start says `output_tokens: 1`, message_delta says 15."""
    events = _events("anthropic/text-stream")
    assert '"output_tokens":1' in events[0]
    decoder = AnthropicStreamDecoder("anthropic")
    reports = [e.usage for chunk in events for e in decoder.feed(chunk.encode()) if isinstance(e, UsageReport)]
    assert [(u.prompt_tokens, u.completion_tokens) for u in reports] == [(17, 0), (17, 15)]


def test_chat_stream_cut_before_message_delta_is_charged_for_its_text(gateway: RunningGateway,
                                                                       fake_upstream: FakeUpstream) -> None:
    """The recorded stream up to its message_delta, then the connection ends: /chat/completions to Claude charges
    the text it relayed ("4200 + 42 =", " 4242": 16 characters, 4 tokens), not message_start's placeholder."""
    events = _events("anthropic/text-stream")
    cut = next(i for i, event in enumerate(events) if event.startswith("event: message_delta"))
    fake_upstream.reply(Reply.sse(events[:cut]), path=UPSTREAM_PATH)
    plaintext, key_hash = new_key(gateway, limit=1)
    body = {"model": "anthropic/claude-sonnet-4-0", "messages": [{"role": "user", "content": "4200 + 42?"}],
            "stream": True}
    with as_key(gateway, plaintext) as client, client.stream("POST", "/chat/completions", json=body) as streamed:
        generation_id, text = streamed.headers["x-generation-id"], streamed.read().decode()
    told = streamed_cost(text)
    [record] = _assert_told_is_booked(gateway, plaintext, key_hash, {generation_id: told}).values()
    assert record.status == "error" and record.usage_estimated
    assert (record.prompt_tokens, record.completion_tokens) == (17, 4)
    assert told == 17 * SONNET_4_0.prompt + 4 * SONNET_4_0.completion


# --- One-hour cache writes ---------------------------------------------------------------------------------------


def _one_hour_writes(usage: dict[str, Any], hour: int) -> dict[str, Any]:
    """Synthesized: the recorded usage with `hour` of its cache writes made with the one-hour TTL."""
    written = usage["cache_creation_input_tokens"]
    return {**usage, "cache_creation": {"ephemeral_5m_input_tokens": written - hour, "ephemeral_1h_input_tokens": hour}}


def test_recorded_five_minute_writes_read_apart() -> None:
    """anthropic/usage-cache-creation: 4,167 tokens written, all with the five-minute TTL."""
    usage = anthropic_usage(load_recording("anthropic/usage-cache-creation").json_body()["usage"])
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (4167, 0)
    split = anthropic_usage(_one_hour_writes({"cache_creation_input_tokens": 4167}, 3000))
    assert (split.cache_write_tokens, split.cache_write_1h_tokens) == (4167, 3000)


def test_one_hour_cache_writes_are_charged_at_their_own_price(gateway: RunningGateway,
                                                              fake_upstream: FakeUpstream) -> None:
    """/chat/completions (the recording's request) and /messages (streamed), each with one-hour writes."""
    recording = load_recording("anthropic/usage-cache-creation")
    answer = recording.json_body()
    answer["usage"] = _one_hour_writes(answer["usage"], 3000)  # 8 uncached, 1,167 + 3,000 written, 204 out
    plaintext, key_hash = new_key(gateway, limit=5)
    told: dict[str, Decimal] = {}
    fake_upstream.reply(Reply.json(answer), path=UPSTREAM_PATH)
    with as_key(gateway, plaintext) as client:
        response = client.post("/chat/completions", json=openai_request(recording))
    assert response.status_code == 200, response.text
    told[response.headers["x-generation-id"]] = D(exact_json(response.text)["usage"]["cost"])
    start_usage = _one_hour_writes({"input_tokens": 12, "cache_creation_input_tokens": 2000,
                                    "cache_read_input_tokens": 0, "output_tokens": 1}, 2000)
    fake_upstream.reply(Reply.sse([
        sse("message_start", {"message": {**message_body([]), "stop_reason": None, "usage": start_usage}}),
        sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        sse("content_block_stop", {"index": 0}),
        sse("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                              "usage": {"output_tokens": 6}}),
        sse("message_stop", {})]), path=MESSAGES_PATH)
    with httpx.Client(base_url=anthropic_base(gateway), timeout=20, headers={"x-api-key": plaintext}) as client, \
            client.stream("POST", "/v1/messages", json={**ASK, "system": SYSTEM, "stream": True}) as streamed:
        text = streamed.read().decode()
        [delta] = [payload for name, payload in sse_events(text) if name == "message_delta"]
        told[streamed.headers["x-generation-id"]] = delta["usage"]["cost"]
    assert delta["usage"]["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2000}
    chat, messages = told.values()
    assert chat == (8 * SONNET_4_0.prompt + 1167 * D("0.00000375") + 3000 * D("0.000006")
                    + 204 * SONNET_4_0.completion)
    assert messages == 12 * OPUS_5_5.prompt + 2000 * 2 * OPUS_5_5.prompt + 6 * OPUS_5_5.completion
    records = _assert_told_is_booked(gateway, plaintext, key_hash, told)
    assert sorted((r.cache_write_tokens, r.cache_write_1h_tokens) for r in records.values()) == [
        (2000, 2000), (4167, 3000)]


def test_bedrock_reports_writes_by_ttl_in_cache_details() -> None:
    """bedrock/usage-cache-write's usage, synthesized with `cacheDetails` as Bedrock documents it
    (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html): 1h before 5m."""
    usage = load_recording("bedrock/usage-cache-write").json_body()["usage"]
    assert bedrock_usage(usage).cache_write_1h_tokens == 0
    split = {**usage, "cacheDetails": [{"ttl": "1h", "inputTokens": 1000}, {"ttl": "5m", "inputTokens": 322}]}
    assert bedrock_usage(split) == TokenUsage(prompt_tokens=1324, completion_tokens=5, cache_write_tokens=1322,
                                              cache_write_1h_tokens=1000)


# --- Server tools: web search ------------------------------------------------------------------------------------


def test_web_searches_are_charged_per_use_streamed_and_not(gateway: RunningGateway,
                                                           fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    ask = {**ASK, "tools": [{**WEB_SEARCH, "max_uses": 3}]}
    used = {"web_search_requests": 2, "web_fetch_requests": 1}
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "Found it."}], input_tokens=900,
                                                output_tokens=40, server_tool_use=used)), path=MESSAGES_PATH)
    told: dict[str, Decimal] = {}
    with httpx.Client(base_url=anthropic_base(gateway), timeout=20, headers={"x-api-key": plaintext}) as client:
        whole = client.post("/v1/messages", json=ask)
        assert whole.status_code == 200, whole.text
        told[whole.headers["x-generation-id"]] = exact_json(whole.text)["usage"]["cost"]
        assert whole.json()["usage"]["server_tool_use"] == used
        fake_upstream.reply(Reply.sse([
            sse("message_start", {"message": {**message_body([]), "stop_reason": None,
                                              "usage": {"input_tokens": 700, "output_tokens": 1}}}),
            sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Found."}}),
            sse("content_block_stop", {"index": 0}),
            sse("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"input_tokens": 700, "output_tokens": 30,
                                            "server_tool_use": {"web_search_requests": 3}}}),
            sse("message_stop", {})]), path=MESSAGES_PATH)
        with client.stream("POST", "/v1/messages", json={**ask, "stream": True}) as streamed:
            [delta] = [p for name, p in sse_events(streamed.read().decode()) if name == "message_delta"]
            told[streamed.headers["x-generation-id"]] = delta["usage"]["cost"]
    search = OPUS_5_5.web_search
    assert search == D("0.01")
    assert list(told.values()) == [900 * OPUS_5_5.prompt + 40 * OPUS_5_5.completion + 2 * search,
                                   700 * OPUS_5_5.prompt + 30 * OPUS_5_5.completion + 3 * search]
    records = _assert_told_is_booked(gateway, plaintext, key_hash, told)
    assert sorted((r.web_search_requests, r.web_fetch_requests) for r in records.values()) == [(2, 1), (3, 0)]
    by_generation = [_told_by_generation(gateway, plaintext, i) for i in told]
    assert [(g["web_search_requests"], g["num_fetches"]) for g in by_generation] == [(2, 1), (3, 0)]


def _search_blocks(index: int, result: Any) -> list[str]:
    """A search as Anthropic streams it: the server_tool_use block, then its result block whole
    (https://platform.claude.com/docs/en/agents-and-tools/tool-use/web-search-tool, "Streaming")."""
    call = {"type": "server_tool_use", "id": f"srvtoolu_{index}", "name": "web_search", "input": {}}
    return [sse("content_block_start", {"index": index, "content_block": call}),
            sse("content_block_delta", {"index": index, "delta": {"type": "input_json_delta",
                                                                  "partial_json": '{"query": "weather Paris"}'}}),
            sse("content_block_stop", {"index": index}),
            sse("content_block_start", {"index": index + 1, "content_block": {
                "type": "web_search_tool_result", "tool_use_id": f"srvtoolu_{index}", "content": result}}),
            sse("content_block_stop", {"index": index + 1})]


def test_a_stream_cut_after_its_searches_is_charged_for_those_that_ran(gateway: RunningGateway,
                                                                       fake_upstream: FakeUpstream) -> None:
    """Two searches, one of which failed (not billed), then the provider fails before message_delta: the search
    that ran is charged, as Anthropic bills it, and told."""
    found = [{"type": "web_search_result", "title": "Paris", "url": "https://example.com/paris",
              "encrypted_content": "EqgfCioIARgB", "page_age": None}]
    failed = {"type": "web_search_tool_result_error", "error_code": "unavailable"}
    fake_upstream.reply(Reply.sse([
        sse("message_start", {"message": {**message_body([]), "stop_reason": None,
                                          "usage": {"input_tokens": 300, "output_tokens": 1}}}),
        *_search_blocks(0, found), *_search_blocks(2, failed),
        sse("error", {"error": {"type": "api_error", "message": "boom"}})]), path=MESSAGES_PATH)
    plaintext, key_hash = new_key(gateway, limit=5)
    with httpx.Client(base_url=anthropic_base(gateway), timeout=20, headers={"x-api-key": plaintext}) as client, \
            client.stream("POST", "/v1/messages", json={**ASK, "tools": [WEB_SEARCH], "stream": True}) as streamed:
        generation_id, text = streamed.headers["x-generation-id"], streamed.read().decode()
    [delta] = [payload for name, payload in sse_events(text) if name == "message_delta"]
    [record] = _assert_told_is_booked(gateway, plaintext, key_hash, {generation_id: delta["usage"]["cost"]}).values()
    assert record.status == "error" and record.web_search_requests == 1
    assert delta["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    assert record.cost == record.prompt_tokens * OPUS_5_5.prompt + record.completion_tokens * OPUS_5_5.completion + (
        OPUS_5_5.web_search)


def test_the_reservation_holds_every_search_the_request_allows(gateway: RunningGateway,
                                                               fake_upstream: FakeUpstream) -> None:
    """$0.20 covers the request without search, and with one search (its $0.01 and 10,000 tokens of results at the
    one-hour write price, $0.08); not five, nor a search tool without `max_uses` (ten are held)."""
    plaintext, _ = new_key(gateway, limit=0.2)
    asks = {"five": [{**WEB_SEARCH, "max_uses": 5}], "uncapped": [WEB_SEARCH], "none": None,
            "one": [{**WEB_SEARCH, "max_uses": 1}]}
    statuses: dict[str, int] = {}
    with httpx.Client(base_url=anthropic_base(gateway), timeout=20, headers={"x-api-key": plaintext}) as client:
        for name, tools in asks.items():
            fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "ok"}])), path=MESSAGES_PATH)
            response = client.post("/v1/messages", content=json.dumps({**ASK, "tools": tools} if tools else ASK),
                                   headers={"content-type": "application/json"})
            statuses[name] = response.status_code
    assert statuses == {"five": 402, "uncapped": 402, "none": 200, "one": 200}


# --- Prices -------------------------------------------------------------------------------------------------------


def test_every_claude_endpoint_prices_one_hour_writes_and_the_claude_api_its_searches() -> None:
    """The bundled catalog: a one-hour write is 2x the input price on every Claude endpoint (Anthropic's pricing
    page, for Bedrock and Vertex too); a search is $0.01 on the Claude API, where the gateway sends server tools."""
    claude = [e for m in load_catalog(None).models.values() for e in m.endpoints if "claude" in e.upstream_id]
    assert claude and all(e.cache_write_1h == 2 * e.prompt for e in claude)
    assert {e.web_search for e in claude if e.host == "anthropic"} == {D("0.01")}


def test_the_cost_of_one_hour_writes_and_searches() -> None:
    usage = TokenUsage(prompt_tokens=5000, completion_tokens=100, cache_write_tokens=4000, cache_write_1h_tokens=3000,
                       web_search_requests=4, web_fetch_requests=2)
    e = OPUS_5_5
    assert e.cache_write is not None and e.cache_write_1h is not None
    by_hand = 1000 * e.prompt + 1000 * e.cache_write + 3000 * e.cache_write_1h + 100 * e.completion + 4 * e.web_search
    assert generation_cost(usage, e) == by_hand
    # More one-hour writes than writes: the whole is billed, at the one-hour price, never a negative part.
    over = TokenUsage(prompt_tokens=4000, cache_write_tokens=4000, cache_write_1h_tokens=9000)
    assert generation_cost(over, e) == 4000 * e.cache_write_1h
    # An endpoint without a one-hour price bills those writes at its write price.
    plain = e.model_copy(update={"cache_write_1h": None})
    assert generation_cost(over, plain) == 4000 * e.cache_write
