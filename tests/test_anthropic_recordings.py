"""Every recorded Anthropic exchange, replayed through a running gateway and read by the official OpenAI SDK.

Both sides are checked: the request the gateway sent upstream equals the recorded request after the
documented normalisations (`anthropic_cases.expected_upstream_body`) and validates against the `anthropic`
SDK's request types; what the SDK parsed carries the recorded text, tool calls, reasoning, finish reason,
usage and its cost. Errors the recordings lack (429, 529, a mid-stream error event, a cut stream) are
synthesized from Anthropic's documented shapes and marked so.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.events import TokenUsage
from lambdarouter.core.pricing import generation_cost
from tests.anthropic_cases import (
    SIGNED,
    UPSTREAM_PATH,
    Answer,
    assert_anthropic_headers,
    assert_valid_anthropic_request,
    error_body,
    expected_upstream_body,
    message_end,
    message_start,
    openai_request,
    recorded_answer,
    sdk_kwargs,
    sse,
    text_block,
)
from tests.fakes.recordings import all_recordings, load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS

SUCCESSES = [n for n in all_recordings("anthropic") if load_recording(n).status == 200]
ERRORS = [n for n in all_recordings("anthropic") if load_recording(n).status != 200]
FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def expected_cost(model_id: str, usage: dict[str, Any]) -> float:
    """The catalog prices applied by hand: uncached input, cache reads, cache writes, output."""
    endpoint = next(e for e in load_catalog(EXTRA_MODELS).models[model_id].endpoints if e.host == "anthropic")
    read, written = usage.get("cache_read_input_tokens") or 0, usage.get("cache_creation_input_tokens") or 0
    assert endpoint.cache_read is not None and endpoint.cache_write is not None
    by_hand = (usage["input_tokens"] * endpoint.prompt + read * endpoint.cache_read
               + written * endpoint.cache_write + usage["output_tokens"] * endpoint.completion)
    tokens = TokenUsage(prompt_tokens=usage["input_tokens"] + read + written,
                        completion_tokens=usage["output_tokens"], cached_tokens=read, cache_write_tokens=written)
    assert generation_cost(tokens, endpoint) == by_hand
    return float(by_hand)


def received_answer(client: openai.OpenAI, request: dict[str, Any]) -> tuple[Answer, str | None, dict[str, Any]]:
    """(answer, native finish reason, usage) as the SDK parsed them, streamed or not."""
    if request.get("stream"):
        chunks = [c.model_dump() for c in client.chat.completions.create(**sdk_kwargs(request))]
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"], "usage rides on the last chunk"
        return _fold(chunks)
    completion = client.chat.completions.create(**sdk_kwargs(request))
    assert completion.model == request["model"]
    choice = completion.model_dump()["choices"][0]
    message = choice["message"]
    answer = Answer(text=message["content"] or "", reasoning=message.get("reasoning") or "",
                    stop_reason=choice["finish_reason"])
    answer.tool_calls = [{"id": c["id"], "name": c["function"]["name"],
                          "arguments": json.loads(c["function"]["arguments"])} for c in message["tool_calls"] or ()]
    answer.signatures = [d["signature"] for d in message.get("reasoning_details") or () if d.get("signature")]
    assert all(d["format"] == SIGNED for d in message.get("reasoning_details") or ())
    return answer, choice["native_finish_reason"], completion.model_dump()["usage"]


def _fold(chunks: list[dict[str, Any]]) -> tuple[Answer, str | None, dict[str, Any]]:
    answer, native = Answer(), None
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            answer.text += delta.get("content") or ""
            answer.reasoning += delta.get("reasoning") or ""
            answer.signatures += [d["signature"] for d in delta.get("reasoning_details") or () if d.get("signature")]
            for call in delta.get("tool_calls") or ():
                entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                entry["id"] = call.get("id") or entry["id"]
                entry["name"] = call["function"].get("name") or entry["name"]
                entry["arguments"] += call["function"].get("arguments") or ""
            answer.stop_reason = choice.get("finish_reason") or answer.stop_reason
            native = choice.get("native_finish_reason") or native
    assert sorted(calls) == list(range(len(calls))), "dense 0-based tool-call indices"
    answer.tool_calls = [{**c, "arguments": json.loads(c["arguments"])} for _, c in sorted(calls.items())]
    return answer, native, chunks[-1]["usage"]


@pytest.mark.parametrize("name", SUCCESSES)
def test_recorded_exchange(name: str, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    request = openai_request(rec)
    want = recorded_answer(rec)

    got, native, usage = received_answer(client, request)

    [sent] = fake_upstream.requests
    assert sent.path == UPSTREAM_PATH and sent.query == ""  # GA structured outputs: no ?beta=true
    assert_anthropic_headers(sent.headers)
    assert sent.json() == expected_upstream_body(rec.request)
    assert_valid_anthropic_request(sent.json())

    assert got.text == want.text
    assert got.tool_calls == want.tool_calls
    assert got.reasoning == want.reasoning
    assert got.signatures == want.signatures  # one reasoning_details entry per thinking block, signed
    assert want.stop_reason is not None
    assert (got.stop_reason, native) == (FINISH[want.stop_reason], want.stop_reason)
    read = want.usage.get("cache_read_input_tokens") or 0
    written = want.usage.get("cache_creation_input_tokens") or 0
    assert usage["prompt_tokens"] == want.usage["input_tokens"] + read + written
    assert usage["completion_tokens"] == want.usage["output_tokens"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == read
    assert usage["prompt_tokens_details"]["cache_write_tokens"] == written
    thinking = (want.usage.get("output_tokens_details") or {}).get("thinking_tokens") or 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == thinking
    assert usage["cost"] == pytest.approx(expected_cost(request["model"], want.usage), rel=1e-12)


def test_recordings_cover_the_cache_counters() -> None:
    """The cost assertions above only prove something if some recording has cache reads and writes."""
    usages = [recorded_answer(load_recording(n)).usage for n in SUCCESSES]
    assert any(u.get("cache_read_input_tokens") for u in usages)
    assert any(u.get("cache_creation_input_tokens") for u in usages)


@pytest.mark.parametrize("name", ERRORS)
def test_recorded_error(name: str, http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    request = {"model": "anthropic/claude-sonnet-4-0", "messages": [{"role": "user", "content": "hi"}],
               "stream": bool(rec.request.get("stream"))}
    response = http.post("/chat/completions", json=request)

    # invalid_request_error → 400, not_found_error → 404; authentication_error is the gateway's own key: 502.
    expected_status = {400: 400, 401: 502, 404: 404}[rec.status]
    assert response.status_code == expected_status
    error = response.json()["error"]
    assert error["code"] == expected_status
    assert error["metadata"]["provider_name"] == "anthropic"
    assert error["metadata"]["raw"] == rec.json_body()
    assert rec.json_body()["error"]["message"] in error["message"]
    assert "sk-upstream" not in response.text


# --- gaps in the recordings, synthesized from the documented formats --------------------------------------

def test_synthesized_429_keeps_retry_after(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """Synthesized: rate_limit_error with retry-after (https://platform.claude.com/docs/en/api/rate-limits)."""
    fake_upstream.reply(Reply.json(error_body("rate_limit_error", "Number of request tokens has exceeded your "
                                              "per-minute rate limit"), status=429, headers={"retry-after": "7"}),
                        path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={"model": "anthropic/claude-sonnet-4-0",
                                                    "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["metadata"]["raw"]["error"]["type"] == "rate_limit_error"


def test_synthesized_529_overloaded_falls_back(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """Synthesized: HTTP 529 overloaded_error is retryable, so the `models` fallback gets the request."""
    fake_upstream.reply(Reply.json(error_body("overloaded_error", "Overloaded"), status=529), path=UPSTREAM_PATH)
    fake_upstream.reply(Reply.from_recording(load_recording("anthropic/text-basic")), path=UPSTREAM_PATH)
    completion = client.chat.completions.create(
        model="anthropic/claude-sonnet-4-5", messages=[{"role": "user", "content": "What is 4200 + 42?"}],
        extra_body={"models": ["anthropic/claude-sonnet-4-0"]})
    assert completion.choices[0].message.content == "4200 + 42 = 4242"
    assert completion.model == "anthropic/claude-sonnet-4-0"
    assert [r.json()["model"] for r in fake_upstream.requests] == ["claude-sonnet-4-5", "claude-sonnet-4-0"]


def test_invalid_request_is_not_retried_but_moves_to_the_next_model(http: httpx.Client,
                                                                    fake_upstream: FakeUpstream) -> None:
    """A 400 is never asked again of the same endpoint; in a `models` list any error moves on (OpenRouter)."""
    rec = load_recording("anthropic/error-400-invalid-request")
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={
        "model": "anthropic/claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400
    assert len(fake_upstream.requests) == 1

    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    fake_upstream.reply(Reply.from_recording(load_recording("anthropic/text-basic")), path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={
        "model": "anthropic/claude-sonnet-4-5", "models": ["anthropic/claude-sonnet-4-0"],
        "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.json()["model"] == "anthropic/claude-sonnet-4-0"
    assert [r.json()["model"] for r in fake_upstream.requests[1:]] == ["claude-sonnet-4-5", "claude-sonnet-4-0"]


def _stream_chunks(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


HELLO = {"model": "anthropic/claude-sonnet-4-0", "messages": [{"role": "user", "content": "hi"}]}


def test_synthesized_mid_stream_overloaded_error(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """Synthesized: `event: error` after content started (https://platform.claude.com/docs/en/build-with-claude/
    streaming#error-events). The client already has bytes, so the stream ends with OpenRouter's error chunk."""
    events = [message_start(), *text_block(0, "Hello")[:2],
              sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})]
    fake_upstream.reply(Reply.sse(events), path=UPSTREAM_PATH)
    chunks = _stream_chunks(http, HELLO)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Hello"
    [failed] = [c for c in chunks if c.get("error")]
    assert failed["error"]["code"] == 502
    assert "Overloaded" in failed["error"]["message"]
    assert failed["choices"][0]["finish_reason"] == "error"
    assert chunks[-1]["usage"]["prompt_tokens"] == 10  # what message_start reported is still accounted


def test_stream_without_message_stop_ends_in_an_error(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.sse([message_start(), *text_block(0, "Hel", "lo")]), path=UPSTREAM_PATH)
    chunks = _stream_chunks(http, HELLO)
    [failed] = [c for c in chunks if c.get("error")]
    assert failed["error"]["code"] == 502
    assert "message_stop" in failed["error"]["message"]


def test_truncated_stream_ends_in_an_error(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """The connection drops mid-body (no terminating chunk): a clean error chunk, never a hang."""
    rec = load_recording("anthropic/text-stream")
    fake_upstream.reply(Reply(rec.status, rec.response_headers, chunks=Reply.from_recording(rec).chunks,
                              reset_after_chunks=3), path=UPSTREAM_PATH)
    chunks = _stream_chunks(http, HELLO)
    assert next(c for c in chunks if c.get("error"))["error"]["code"] in (408, 502)


def test_truncated_body_is_a_clean_502(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("anthropic/text-basic")
    body = rec.body_bytes()
    fake_upstream.reply(Reply(200, {"content-type": "application/json"}, body=body[: len(body) // 2]),
                        path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json=HELLO)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == 502


def test_unknown_events_are_ignored(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """Anthropic may add event and delta types (https://platform.claude.com/docs/en/api/versioning): skipped."""
    events = [message_start(), sse("brand_new_event", {"detail": 1}), *text_block(0, "4242"),
              sse("content_block_delta", {"index": 0, "delta": {"type": "brand_new_delta", "x": 1}}),
              *message_end()]
    fake_upstream.reply(Reply.sse(events), path=UPSTREAM_PATH)
    stream = client.chat.completions.create(model="anthropic/claude-sonnet-4-0", stream=True,
                                            messages=[{"role": "user", "content": "hi"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "4242"


def test_cache_reads_cost_less_than_the_prompt_price(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("anthropic/usage-cache-read")
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    completion = client.chat.completions.create(**sdk_kwargs(openai_request(rec)))
    usage = rec.json_body()["usage"]
    endpoint = load_catalog(EXTRA_MODELS).models["anthropic/claude-sonnet-4-0"].endpoints[0]
    full_price = ((usage["input_tokens"] + usage["cache_read_input_tokens"]) * endpoint.prompt
                  + usage["output_tokens"] * endpoint.completion)
    assert Decimal(str(completion.model_dump()["usage"]["cost"])) < full_price
