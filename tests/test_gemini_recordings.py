"""Every recorded Gemini exchange, replayed through a running gateway and read by the official SDK.

Both sides are checked: the request the gateway sent upstream equals the recorded one after the documented
normalisations (tests/gemini_cases.py) and validates against the `google-genai` SDK's own request types,
and what the `openai` SDK parsed carries the recorded text, reasoning, tool calls, signatures, finish
reason, usage and cost. Error recordings check the status mapping and the envelope; cases the recordings
lack (RetryInfo on a 429, 5xx, a mid-stream error, a cut stream) are synthesized from the documented shapes.
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
from lambdarouter.providers.gemini.chat import GeminiAdapter
from tests.fakes.recordings import Recording, all_recordings, load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, UPSTREAM_KEY
from tests.gemini_cases import CLIENT_REQUESTS, expected_upstream_body, recorded_answer, validate_with_sdk
from tests.openai_chunks import fold_chunks

HOST = "google-ai-studio"
SUCCESSES = [n for n in all_recordings("gemini") if load_recording(n).status == 200]
ERRORS = [n for n in all_recordings("gemini") if load_recording(n).status != 200]
ANY_GEMINI_PATH = "^/v1beta/models/"
CATALOG = load_catalog(EXTRA_MODELS)



def test_every_recorded_success_has_a_client_request() -> None:
    assert sorted(CLIENT_REQUESTS) == SUCCESSES


def catalog_id(upstream_model: str) -> str:
    for model in CATALOG.models.values():
        if any(e.host == HOST and e.upstream_id == upstream_model for e in model.endpoints):
            return model.id
    raise LookupError(upstream_model)


def upstream_model(rec: Recording) -> str:
    return rec.endpoint.removeprefix("/v1beta/models/").split(":")[0]


def expected_cost(model_id: str, usage: dict[str, Any]) -> float:
    endpoint = next(e for e in CATALOG.models[model_id].endpoints if e.host == HOST)
    tokens = TokenUsage(prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
                        cached_tokens=usage["prompt_tokens_details"]["cached_tokens"])
    assert endpoint.cache_read is not None
    by_hand = ((tokens.prompt_tokens - tokens.cached_tokens) * endpoint.prompt
               + tokens.cached_tokens * endpoint.cache_read + tokens.completion_tokens * endpoint.completion)
    assert generation_cost(tokens, endpoint) == by_hand
    return float(by_hand)


def parsed_answer(client: openai.OpenAI, request: dict[str, Any]) -> dict[str, Any]:
    """What the SDK parsed, in one shape for both paths (the gateway's extras read from the dumps)."""
    if request.get("stream"):
        chunks = [c.model_dump() for c in client.chat.completions.create(**request)]
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]  # usage rides on the last chunk
        folded = fold_chunks(chunks)
        deltas = [ch["delta"] for c in chunks for ch in c["choices"]]
        natives = [ch.get("native_finish_reason") for c in chunks for ch in c["choices"] if ch["finish_reason"]]
        return {"text": folded.content, "calls": list(folded.tool_calls.values()), "finish": folded.finish_reason,
                "native": natives[-1] if natives else None, "usage": folded.usage,
                "reasoning": "".join(d.get("reasoning") or "" for d in deltas),
                "details": [x for d in deltas for x in d.get("reasoning_details") or ()]}
    completion = client.chat.completions.create(**request).model_dump()
    assert completion["model"] == request["model"] and completion["provider"] == "Google AI Studio"
    choice, message = completion["choices"][0], completion["choices"][0]["message"]
    calls = [{"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
             for c in message.get("tool_calls") or ()]
    return {"text": message["content"] or "", "calls": calls, "finish": choice["finish_reason"],
            "native": choice["native_finish_reason"], "usage": completion["usage"],
            "reasoning": message.get("reasoning") or "", "details": message.get("reasoning_details") or []}


@pytest.mark.parametrize("name", SUCCESSES)
def test_recorded_exchange(name: str, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec), path=rec.endpoint)
    request = {**CLIENT_REQUESTS[name](rec), "model": catalog_id(upstream_model(rec))}
    got = parsed_answer(client, request)

    [sent] = fake_upstream.requests
    assert sent.path == rec.endpoint
    assert sent.query == ("alt=sse" if request.get("stream") else "")  # never the key
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.json() == expected_upstream_body(rec.request)
    validate_with_sdk(sent.json())

    want = recorded_answer(rec)
    assert got["text"] == want.text
    assert got["reasoning"] == want.reasoning
    assert [(c["name"], json.loads(c["arguments"])) for c in got["calls"]] == want.calls
    ids = [c["id"] for c in got["calls"]]
    assert all(ids) and len(set(ids)) == len(ids)
    assert want.finish is not None
    assert got["finish"] == ("tool_calls" if want.calls else {"STOP": "stop", "MAX_TOKENS": "length"}[want.finish])
    assert got["native"] == want.finish
    assert [d["data"] for d in got["details"]] == want.signatures
    assert all(d["type"] == "reasoning.encrypted" and d["format"] == "google-gemini-v1" for d in got["details"])
    assert {d["id"] for d in got["details"] if "id" in d} <= set(ids)

    usage, meta = got["usage"], want.usage
    thoughts = meta.get("thoughtsTokenCount", 0)
    assert usage["prompt_tokens"] == meta["promptTokenCount"]
    assert usage["completion_tokens"] == meta.get("candidatesTokenCount", 0) + thoughts
    assert usage["prompt_tokens_details"]["cached_tokens"] == meta.get("cachedContentTokenCount", 0)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == thoughts
    assert usage["total_tokens"] == meta["totalTokenCount"]
    assert usage["cost"] == pytest.approx(expected_cost(request["model"], usage), rel=1e-12)


def test_cached_tokens_are_billed_at_the_cache_price(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("gemini/usage-cached-content-tokens")
    fake_upstream.reply(Reply.from_recording(rec), path=rec.endpoint)
    request = {**CLIENT_REQUESTS[rec.name](rec), "model": "google/gemini-2.5-flash"}
    usage = client.chat.completions.create(**request).model_dump()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 3055
    endpoint = CATALOG.models["google/gemini-2.5-flash"].endpoints[0]
    full_price = usage["prompt_tokens"] * endpoint.prompt + usage["completion_tokens"] * endpoint.completion
    assert Decimal(str(usage["cost"])) < full_price


# -- errors --------------------------------------------------------------------------------------------------

# The recorded errors: (gateway status, retryable). A bad key is the gateway's fault (502), not the client's 400.
RECORDED_ERRORS = {
    "gemini/error-400-api-key-invalid": (502, True),
    "gemini/error-404-model-not-found-stream": (404, False),
    "gemini/error-429-resource-exhausted": (429, True),
}


def test_every_recorded_error_is_mapped() -> None:
    assert sorted(RECORDED_ERRORS) == ERRORS


@pytest.mark.parametrize("name", ERRORS)
def test_recorded_error(name: str, http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec), path=ANY_GEMINI_PATH)
    stream = rec.query == "alt=sse"
    text = rec.request["contents"][0]["parts"][0]["text"]
    response = http.post("/chat/completions", json={
        "model": "google/gemini-2.5-flash", "stream": stream, "messages": [{"role": "user", "content": text}]})

    status, retryable = RECORDED_ERRORS[name]
    raw = json.loads(rec.body_bytes())  # the 404 on a stream request is JSON served as text/event-stream
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status
    assert error["metadata"]["provider_name"] == HOST
    assert error["metadata"]["raw"] == raw
    assert raw["error"]["message"] in error["message"]
    assert UPSTREAM_KEY not in response.text
    mapped = GeminiAdapter().map_error(rec.status, rec.response_headers, rec.body_bytes(), HOST)
    assert (mapped.status, mapped.retryable) == (status, retryable)


def rpc_error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **({"details": details} if details else {})}}


# Synthesized from the documented google.rpc.Status shape (https://ai.google.dev/gemini-api/docs/troubleshooting);
# the RetryInfo detail is the shape of vercel/ai's fixture google-429-retry-info.json (INDEX.md, "Gaps").
SYNTHESIZED_ERRORS = [
    pytest.param(429, rpc_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "m"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "36.5s"}]), {}, 429, True, "37",
        id="429-retry-info"),
    pytest.param(429, rpc_error(429, "RESOURCE_EXHAUSTED", "Quota."), {"retry-after": "12"}, 429, True, "12",
                 id="429-retry-after-header"),
    pytest.param(500, rpc_error(500, "INTERNAL", "An internal error has occurred."), {}, 502, True, None,
                 id="500-internal"),
    pytest.param(503, rpc_error(503, "UNAVAILABLE", "The model is overloaded."), {}, 502, True, None,
                 id="503-unavailable"),
    pytest.param(504, rpc_error(504, "DEADLINE_EXCEEDED", "Deadline expired."), {}, 408, True, None,
                 id="504-deadline"),
    pytest.param(403, rpc_error(403, "PERMISSION_DENIED", "Permission denied."), {}, 502, True, None,
                 id="403-permission"),
    pytest.param(400, rpc_error(400, "FAILED_PRECONDITION", "User location is not supported."), {}, 502, True, None,
                 id="400-failed-precondition"),
    pytest.param(400, rpc_error(400, "INVALID_ARGUMENT", "Invalid JSON payload."), {}, 400, False, None,
                 id="400-invalid-argument"),
]


@pytest.mark.parametrize(("status", "body", "headers", "expected", "retryable", "retry_after"), SYNTHESIZED_ERRORS)
def test_synthesized_error(status: int, body: dict[str, Any], headers: dict[str, str], expected: int,
                           retryable: bool, retry_after: str | None, http: httpx.Client,
                           fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(body, status=status, headers=headers), path=ANY_GEMINI_PATH)
    response = http.post("/chat/completions", json={"model": "google/gemini-2.5-flash",
                                                     "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == expected
    assert response.headers.get("retry-after") == retry_after
    assert response.json()["error"]["metadata"]["raw"] == body
    mapped = GeminiAdapter().map_error(status, headers, json.dumps(body).encode(), HOST)
    assert mapped.retryable is retryable


def test_a_retryable_error_falls_back_to_the_next_model(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """Retryable is observable: a 503 from Gemini moves on to the next model of `models`."""
    fake_upstream.reply(Reply.json(rpc_error(503, "UNAVAILABLE", "overloaded"), status=503), path=ANY_GEMINI_PATH)
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path="/v1/chat/completions")
    response = http.post("/chat/completions", json={
        "models": ["google/gemini-2.5-flash", "openai/gpt-4o"], "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "OpenAI"


def _sse(*objects: dict[str, Any]) -> list[bytes]:
    return [f"data: {json.dumps(o)}\r\n\r\n".encode() for o in objects]


TEXT_CHUNK = {"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}],
              "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}


def _stream(http: httpx.Client) -> list[dict[str, Any]]:
    with http.stream("POST", "/chat/completions", json={
            "model": "google/gemini-2.5-flash", "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}) as response:
        assert response.status_code == 200
        text = response.read().decode()
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_mid_stream_error_event_ends_the_stream_with_an_error_chunk(http: httpx.Client,
                                                                   fake_upstream: FakeUpstream) -> None:
    """Synthesized: a google.rpc.Status as an SSE event after the first chunk (the model failed mid-answer)."""
    chunks = _sse(TEXT_CHUNK, rpc_error(500, "INTERNAL", "An internal error has occurred."))
    fake_upstream.reply(Reply(headers={"content-type": "text/event-stream"}, chunks=chunks), path=ANY_GEMINI_PATH)
    out = _stream(http)
    errors = [c for c in out if c.get("error")]
    assert len(errors) == 1 and errors[0]["error"]["code"] == 502
    assert "An internal error has occurred." in errors[0]["error"]["message"]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in out if c["choices"]) == "Hel"
    assert out[-1]["usage"]["prompt_tokens"] == 3  # what was produced is still accounted


@pytest.mark.parametrize("cut", ["connection", "no-finish"])
def test_a_cut_stream_ends_with_an_error_chunk(cut: str, http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """Synthesized: the body ends (connection closed, or a clean end) before a chunk with finishReason."""
    rec = load_recording("gemini/thinking-include-thoughts-stream")
    recorded = Reply.from_recording(rec)
    chunks = recorded.chunks or []
    assert len(chunks) > 2
    if cut == "connection":
        reply = Reply(headers=recorded.headers, chunks=chunks, reset_after_chunks=2)
    else:
        reply = Reply(headers=recorded.headers, chunks=chunks[:2])
    fake_upstream.reply(reply, path=ANY_GEMINI_PATH)
    out = _stream(http)
    errors = [c for c in out if c.get("error")]
    assert len(errors) == 1 and errors[0]["error"]["code"] == 502
    assert errors[0]["choices"][0]["finish_reason"] == "error"
