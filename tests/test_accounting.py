"""Every cent accounted, through a real `lambdarouter serve` on SQLite: budgets, ledger, aborts, limits."""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

from lambdarouter.core.budget import measure, quote
from lambdarouter.core.catalog import load_catalog
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from tests.accounting import (
    GPT4O,
    HELLO,
    as_key,
    completion_body,
    exact_json,
    key_record,
    ledger,
    new_key,
    streamed_cost,
    wait_for_records,
    wait_until,
)
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import HEADERS, NEVER, FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, RunningGateway
from tests.stores import wait
from tests.test_chat_api import chunk_event

UPSTREAM_PATH = "/v1/chat/completions"
# Wire format → the catalog host the test routes through (the gateway's env points each at the fake).
HOSTS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google-ai-studio", "bedrock": "amazon-bedrock"}


def model_on(host: str) -> str:
    catalog = load_catalog(EXTRA_MODELS)
    return next(m.id for m in catalog.models.values() if any(e.host == host for e in m.endpoints))


@pytest.mark.parametrize("wire_format", list(HOSTS))
def test_ledger_equals_what_clients_were_told(wire_format: str, gateway: RunningGateway,
                                              fake_upstream: FakeUpstream) -> None:
    """Streamed and not, the ledger's costs are exactly the `usage.cost` each client received."""
    if importlib.util.find_spec(f"lambdarouter.providers.{wire_format}") is None:
        pytest.skip(f"the {wire_format} adapter is not in this tree yet")
    plaintext, key_hash = new_key(gateway, limit=5)
    request = {"model": model_on(HOSTS[wire_format]), "messages": HELLO, "provider": {"only": [HOSTS[wire_format]]}}
    told: dict[str, Decimal] = {}
    with as_key(gateway, plaintext) as client:
        for _ in range(2):
            fake_upstream.reply(Reply.from_recording(load_recording(f"{wire_format}/text-basic")))
            response = client.post("/chat/completions", json=request)
            assert response.status_code == 200, response.text
            told[response.headers["x-generation-id"]] = Decimal(exact_json(response.text)["usage"]["cost"])
            fake_upstream.reply(Reply.from_recording(load_recording(f"{wire_format}/text-stream")))
            with client.stream("POST", "/chat/completions", json={**request, "stream": True}) as streamed:
                assert streamed.status_code == 200
                told[streamed.headers["x-generation-id"]] = streamed_cost(streamed.read().decode())
    records = {r.id: r for r in wait_for_records(gateway, key_hash, len(told))}
    assert {i: r.cost for i, r in records.items()} == told
    assert all(cost > 0 for cost in told.values())
    assert sum(told.values()) == sum(r.cost for r in records.values()) == key_record(gateway, key_hash).usage
    assert {r.streamed for r in records.values()} == {True, False}


def test_dropped_stream_is_charged_for_what_was_produced(gateway: RunningGateway,
                                                         fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    words = [f"word{i} " for i in range(12)]
    events = [chunk_event(w) for w in words] + [chunk_event(finish="stop"), chunk_event(usage=True),
                                                 "data: [DONE]\n\n"]
    # Three words, then the rest held until the gateway leaves: the answer cannot finish before the client goes.
    fake_upstream.reply(dataclasses.replace(Reply.sse(events), gates={3: NEVER}), path=UPSTREAM_PATH)
    received: list[str] = []
    with as_key(gateway, plaintext) as client, client.stream(
            "POST", "/chat/completions", json={**GPT4O, "messages": HELLO, "stream": True}) as resp:
        generation_id = resp.headers["x-generation-id"]
        for line in resp.iter_lines():
            if '"content"' in line:
                received.append(line)
            if len(received) == 3:
                break  # the client goes away halfway
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.id == generation_id
    assert record.status == "aborted" and record.streamed and record.usage_estimated
    assert 3 <= record.completion_tokens < 12  # what was produced before the client left, not the whole answer
    assert record.prompt_tokens > 0 and record.cost > 0
    key = key_record(gateway, key_hash)
    assert key.usage == record.cost and key.holds == ()
    assert key.remaining == 1 - record.cost  # the hold was released, the real cost charged


def test_concurrent_requests_never_overspend(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """50 requests at once against a budget that covers 10 (each costs exactly its worst case)."""
    body = {**GPT4O, "messages": HELLO, "max_tokens": 100, "provider": {"only": ["openai"]}}
    request = to_canonical(ChatCompletionRequest.model_validate(body))
    size = measure(request)
    endpoint = next(e for e in load_catalog(EXTRA_MODELS).models["openai/gpt-4o"].endpoints if e.host == "openai")
    worst = quote(request, size, [endpoint])
    plaintext, key_hash = new_key(gateway, limit=float(worst.amount * 10))
    assert key_record(gateway, key_hash).limit == worst.amount * 10
    fake_upstream.reply(Reply(status=200, headers={"content-type": "application/json"}, stall=0.3,
                              body=httpx.Response(200, json=completion_body(size.reserved_tokens, 100)).content),
                        path=UPSTREAM_PATH, times=50)
    barrier = threading.Barrier(50)

    def call(_: int) -> httpx.Response:
        with as_key(gateway, plaintext) as client:
            barrier.wait()
            return client.post("/chat/completions", json=body)

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(call, range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [402] * 40
    refused = next(r for r in responses if r.status_code == 402).json()["error"]
    assert refused["type"] == "insufficient_credits"
    assert refused["message"].startswith("This request requires more credits, or fewer max_tokens. You requested "
                                         "up to 100 tokens, but can only afford ")
    records = wait_for_records(gateway, key_hash, 10)
    spent = sum(r.cost for r in records)
    assert len(records) == 10 and spent == worst.amount * 10
    assert spent == sum(Decimal(exact_json(r.text)["usage"]["cost"]) for r in responses if r.status_code == 200)
    key = key_record(gateway, key_hash)
    assert key.usage == spent <= key.limit if key.limit is not None else False
    assert len(fake_upstream.requests) == 10


def test_402_names_what_the_key_can_afford(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, _ = new_key(gateway, limit=0.001)
    with as_key(gateway, plaintext) as client:
        response = client.post("/chat/completions", json={**GPT4O, "messages": HELLO,
                                                           "max_tokens": 1000})
        assert response.status_code == 402
        message = response.json()["error"]["message"]
        assert "You requested up to 1000 tokens, but can only afford " in message
        affordable = int(message.rsplit(" ", 1)[1].rstrip("."))
        assert 0 < affordable < 1000
        fake_upstream.reply(Reply.json(completion_body(5, 6)), path=UPSTREAM_PATH)
        assert client.post("/chat/completions", json={**GPT4O, "messages": HELLO,
                                                      "max_tokens": affordable}).status_code == 200
    assert len(fake_upstream.requests) == 1


def _wait_for_a_fresh_window(seconds: int) -> None:
    left = seconds - time.time() % seconds
    if left < 10:
        time.sleep(left + 0.05)


def test_rate_limit_429_and_headers(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, _ = new_key(gateway, rate_limit={"requests": 2, "interval": "1h"})
    _wait_for_a_fresh_window(3600)
    fake_upstream.reply(Reply.json(completion_body(5, 6)), path=UPSTREAM_PATH, times=2)
    with as_key(gateway, plaintext) as client:
        ok = [client.post("/chat/completions", json={**GPT4O, "messages": HELLO}) for _ in range(2)]
        limited = client.post("/chat/completions", json={**GPT4O, "messages": HELLO})
        info = client.get("/key").json()["data"]
    assert [r.status_code for r in ok] == [200, 200]
    assert [r.headers["x-ratelimit-remaining"] for r in ok] == ["1", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "2" for r in ok)
    assert limited.status_code == 429 and limited.json()["error"]["type"] == "rate_limit_error"
    reset_ms = int(limited.headers["x-ratelimit-reset"])
    assert limited.headers["x-ratelimit-limit"] == "2" and limited.headers["x-ratelimit-remaining"] == "0"
    assert reset_ms % 3_600_000 == 0 and reset_ms > time.time() * 1000
    assert 0 < int(limited.headers["retry-after"]) <= 3600
    assert len(fake_upstream.requests) == 2
    assert info["rate_limit"]["requests"] == 2 and info["rate_limit"]["interval"] == "1h"


def test_idempotency_replays_charges_once_and_refuses_misuse(gateway: RunningGateway,
                                                              fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway)
    body = {**GPT4O, "messages": HELLO}
    fake_upstream.reply(Reply.json(completion_body(5, 6, "first")), path=UPSTREAM_PATH)
    with as_key(gateway, plaintext) as client:
        first = client.post("/chat/completions", json=body, headers={"idempotency-key": "order-1"})
        again = client.post("/chat/completions", json=body, headers={"idempotency-key": "order-1"})
        other_body = client.post("/chat/completions", json={**body, "temperature": 0.3},
                                 headers={"idempotency-key": "order-1"})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-generation-id"] == first.headers["x-generation-id"]
    assert other_body.status_code == 422 and other_body.json()["error"]["code"] == 422
    assert len(fake_upstream.requests) == 1
    records = wait_for_records(gateway, key_hash, 1)
    assert len(records) == 1 and key_record(gateway, key_hash).usage == records[0].cost

    answer = threading.Event()  # the upstream answers the first request only once its duplicate was refused
    fake_upstream.reply(Reply(status=200, headers={"content-type": "application/json"}, gates={HEADERS: answer},
                              body=httpx.Response(200, json=completion_body(5, 6)).content), path=UPSTREAM_PATH)
    results: dict[str, httpx.Response] = {}

    def slow() -> None:
        with as_key(gateway, plaintext) as client:
            results["slow"] = client.post("/chat/completions", json=body, headers={"idempotency-key": "order-2"})

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert wait_until(lambda: len(fake_upstream.requests) == 2)  # in flight: its key was claimed first
        with as_key(gateway, plaintext) as client:
            duplicate = client.post("/chat/completions", json=body, headers={"idempotency-key": "order-2"})
    finally:
        answer.set()
        thread.join(30)
    assert duplicate.status_code == 409
    assert results["slow"].status_code == 200


def test_key_checks_disabled_expired_and_allowed_models(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    only_claude, _ = new_key(gateway, allowed_models=["anthropic/*"])
    expired, _ = new_key(gateway, expires_at="2020-01-01T00:00:00Z")
    disabled, disabled_hash = new_key(gateway)
    with as_key(gateway, "") as client:
        client.headers["authorization"] = f"Bearer {only_claude}"
        refused = client.post("/chat/completions", json={**GPT4O, "messages": HELLO})
        client.headers["authorization"] = f"Bearer {expired}"
        gone = client.post("/chat/completions", json={**GPT4O, "messages": HELLO})
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        from tests.gateway import ADMIN_KEY

        client.patch(f"/keys/{disabled_hash}", json={"disabled": True},
                     headers={"authorization": f"Bearer {ADMIN_KEY}"}).raise_for_status()
        off = client.post("/chat/completions", json={**GPT4O, "messages": HELLO},
                          headers={"authorization": f"Bearer {disabled}"})
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
    assert (gone.status_code, gone.json()["error"]["message"]) == (401, "This API key has expired.")
    assert (off.status_code, off.json()["error"]["message"]) == (401, "This API key is disabled.")
    assert fake_upstream.requests == []


def test_generation_and_key_routes(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, name="reports", limit=2, limit_reset="monthly")
    other, _ = new_key(gateway)
    fake_upstream.reply(Reply.json(completion_body(5, 6)), path=UPSTREAM_PATH)
    with as_key(gateway, plaintext) as client:
        answer = client.post("/chat/completions", json={**GPT4O, "messages": HELLO})
        generation_id = answer.headers["x-generation-id"]
        wait_for_records(gateway, key_hash, 1)
        found = client.get("/generation", params={"id": generation_id})
        key_info = client.get("/key").json()["data"]
        missing = client.get("/generation")
    with as_key(gateway, other) as client:
        foreign = client.get("/generation", params={"id": generation_id})
    data: dict[str, Any] = found.json()["data"]
    assert found.status_code == 200
    assert data["id"] == generation_id and data["total_cost"] == answer.json()["usage"]["cost"]
    assert (data["tokens_prompt"], data["tokens_completion"], data["streamed"], data["cancelled"]) == (5, 6, False,
                                                                                                      False)
    assert data["provider_name"] == "openai" and data["model"] == "openai/gpt-4o"
    assert data["provider_responses"] == [{"provider": "openai", "status": 200,
                                           "latency": data["provider_responses"][0]["latency"]}]
    assert {"upstream_id", "latency", "generation_time", "finish_reason", "native_tokens_prompt",
            "num_media_prompt", "is_byok", "origin", "app_id", "cache_discount"} <= set(data)
    assert foreign.status_code == 404 and missing.status_code == 400
    assert key_info["label"] and key_info["limit"] == 2 and key_info["limit_reset"] == "monthly"
    assert key_info["usage"] == data["total_cost"]
    # The key was created in this test: all its spend falls in the current UTC day, week and month.
    assert key_info["usage_daily"] == key_info["usage_weekly"] == key_info["usage_monthly"] == data["total_cost"]
    assert key_info["byok_usage"] == 0 and key_info["is_management_key"] is False
    assert key_info["limit_remaining"] == pytest.approx(2 - data["total_cost"])
    assert key_info["is_free_tier"] is False and key_info["rate_limit"]["requests"] == -1
    assert wait(ledger(gateway).get_generation(generation_id)) is not None
