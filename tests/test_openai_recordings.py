"""Every recorded OpenAI exchange, replayed through a running gateway and read by the official SDK.

Both sides are checked: what the gateway sent upstream equals the recorded request (with the documented
differences), and what the SDK parsed equals what the provider said.
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
from tests.fakes.recordings import Recording, all_recordings, load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, RunningGateway
from tests.openai_chunks import fold_chunks, sse_chunks

SUCCESSES = [n for n in all_recordings("openai") if load_recording(n).status == 200]
ERRORS = [n for n in all_recordings("openai") if load_recording(n).status != 200]
UPSTREAM_PATH = "/v1/chat/completions"


def catalog_id(upstream_model: str) -> str:
    """The catalog model the gateway serves through OpenAI under this upstream id."""
    for model in load_catalog(EXTRA_MODELS).models.values():
        if any(e.host == "openai" and e.upstream_id == upstream_model for e in model.endpoints):
            return model.id
    raise LookupError(upstream_model)


def expected_upstream_body(recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded request as the gateway should send it: the documented normalisations only."""
    body = dict(recorded)
    body["stream"] = bool(body.get("stream"))
    if body["stream"]:
        body["stream_options"] = {"include_usage": True}  # the gateway always needs usage to charge
    if "max_tokens" in body:  # OpenAI deprecated max_tokens; its reasoning models reject it
        body["max_completion_tokens"] = body.pop("max_tokens")
    return body


def gateway_request(rec: Recording) -> dict[str, Any]:
    body = dict(rec.request)
    body["model"] = catalog_id(body["model"])
    return body


def recorded_answer(rec: Recording) -> tuple[str, dict[int, dict[str, str]], str | None, dict[str, Any]]:
    if rec.is_sse:
        folded = fold_chunks(sse_chunks(rec.body_bytes().decode()))
        assert folded.usage is not None
        return folded.content, folded.tool_calls, folded.finish_reason, folded.usage
    body = rec.json_body()
    message = body["choices"][0]["message"]
    calls = {i: {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
             for i, c in enumerate(message.get("tool_calls") or ())}
    return message.get("content") or "", calls, body["choices"][0]["finish_reason"], body["usage"]


def expected_cost(model_id: str, usage: dict[str, Any]) -> float:
    endpoint = next(e for e in load_catalog(EXTRA_MODELS).models[model_id].endpoints if e.host == "openai")
    details = usage.get("prompt_tokens_details") or {}
    tokens = TokenUsage(prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
                        cached_tokens=details.get("cached_tokens") or 0)
    uncached = tokens.prompt_tokens - tokens.cached_tokens
    by_hand = (uncached * endpoint.prompt + tokens.cached_tokens * (endpoint.cache_read or endpoint.prompt)
               + tokens.completion_tokens * endpoint.completion)
    assert generation_cost(tokens, endpoint) == by_hand
    return float(by_hand)


@pytest.mark.parametrize("name", SUCCESSES)
def test_recorded_exchange(name: str, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    request = gateway_request(rec)
    content, calls, finish, usage = recorded_answer(rec)

    if rec.is_sse:
        chunks = [c.model_dump() for c in client.chat.completions.create(**request)]
        folded = fold_chunks(chunks)
        got_content, got_calls, got_finish, got_usage = (folded.content, folded.tool_calls,
                                                          folded.finish_reason, folded.usage)
        assert chunks[-1]["choices"] == [] and got_usage is not None  # usage rides on the last chunk
    else:
        completion = client.chat.completions.create(**request)
        message = completion.choices[0].message
        got_content, got_finish = message.content or "", completion.choices[0].finish_reason
        got_calls = {i: {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                     for i, c in enumerate(message.tool_calls or ()) if c.type == "function"}
        got_usage = completion.usage.model_dump() if completion.usage else None
        assert completion.model == request["model"]
        assert completion.model_dump()["provider"] == "OpenAI"

    [sent] = fake_upstream.requests
    assert sent.json() == expected_upstream_body(rec.request)
    assert sent.headers["authorization"] == "Bearer sk-upstream-secret-0123456789"
    assert (got_content, got_calls, got_finish) == (content, calls, finish)
    assert got_usage is not None
    assert got_usage["prompt_tokens"] == usage["prompt_tokens"]
    assert got_usage["completion_tokens"] == usage["completion_tokens"]
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    assert got_usage["prompt_tokens_details"]["cached_tokens"] == cached
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    assert got_usage["completion_tokens_details"]["reasoning_tokens"] == reasoning
    assert got_usage["cost"] == pytest.approx(expected_cost(request["model"], usage), rel=1e-12)


@pytest.mark.parametrize("name", ERRORS)
def test_recorded_error(name: str, http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    request = {**rec.request, "model": "openai/gpt-4o"}
    response = http.post("/chat/completions", json=request)

    # The design's table: the provider refusing the gateway's own credentials is an upstream fault (502).
    expected_status = {400: 400, 401: 502, 404: 404}[rec.status]
    assert response.status_code == expected_status
    error = response.json()["error"]
    assert error["code"] == expected_status
    assert error["metadata"]["provider_name"] == "openai"
    assert error["metadata"]["raw"] == rec.json_body()
    assert rec.json_body()["error"]["message"] in error["message"]


def test_usage_cost_is_exact_decimal(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """The cached-tokens recording: cache reads are billed at the cache price, not the prompt price."""
    rec = load_recording("openai/usage-cached-tokens")
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    completion = client.chat.completions.create(**gateway_request(rec))
    usage = rec.json_body()["usage"]
    endpoint = load_catalog().models["openai/gpt-4o"].endpoints[0]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert cached > 0 and endpoint.cache_read is not None and endpoint.cache_read < endpoint.prompt
    full_price = Decimal(usage["prompt_tokens"]) * endpoint.prompt + usage["completion_tokens"] * endpoint.completion
    assert completion.usage is not None
    got = Decimal(str(completion.model_dump()["usage"]["cost"]))
    assert got < full_price
    assert json.loads(completion.model_dump_json())["usage"]["cost"] == float(got)


def test_generation_id_header(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path=UPSTREAM_PATH)
    response = httpx.post(f"{gateway.url}/chat/completions", timeout=10,
                          headers={"authorization": f"Bearer {gateway.key}"},
                          json={"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.headers["x-generation-id"] == response.json()["id"]
    assert response.json()["id"].startswith("gen-")
