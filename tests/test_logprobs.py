"""Log probabilities come back into the answer, whole and streamed, in OpenAI's shape (issue 21)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fakes.upstream import FakeUpstream, Reply

TOKENS = [{"token": "Hi", "logprob": -0.01, "bytes": [72, 105], "top_logprobs": [
    {"token": "Hi", "logprob": -0.01, "bytes": [72, 105]}, {"token": "Hello", "logprob": -4.6, "bytes": None}]}]
ASK = {"messages": [{"role": "user", "content": "Say hi"}], "logprobs": True, "top_logprobs": 2}


def openai_answer() -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o", "choices": [{
        "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"},
        "logprobs": {"content": TOKENS, "refusal": None}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


def chunks(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with http.stream("POST", "/chat/completions", json={**body, "stream": True}) as answer:
        assert answer.status_code == 200, answer.read()
        lines = [line[6:] for line in answer.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def streamed_logprobs(events: list[dict[str, Any]]) -> list[Any]:
    return [t for e in events for c in e["choices"] for t in ((c.get("logprobs") or {}).get("content") or ())]


def test_openai_logprobs_whole_and_streamed(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(openai_answer()), path="/v1/chat/completions")
    whole = http.post("/chat/completions", json={"model": "openai/gpt-4o", **ASK})
    assert whole.status_code == 200, whole.text
    assert whole.json()["choices"][0]["logprobs"] == {"content": TOKENS, "refusal": None}
    sent = fake_upstream.requests[0].json()
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 2)

    chunk = {"id": "c2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    pieces = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"},
                                     "logprobs": {"content": TOKENS}}]},
              {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {**chunk, "choices": [], "usage": openai_answer()["usage"]}]
    fake_upstream.reply(Reply.sse([*(f"data: {json.dumps(p)}\n\n" for p in pieces), "data: [DONE]\n\n"]),
                        path="/v1/chat/completions")
    assert streamed_logprobs(chunks(http, {"model": "openai/gpt-4o", **ASK})) == TOKENS


def test_gemini_logprobs_result_becomes_openai_logprobs(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    result = {"chosenCandidates": [{"token": "Hi", "logProbability": -0.01}],
              "topCandidates": [{"candidates": [{"token": "Hi", "logProbability": -0.01},
                                                {"token": "Hello", "logProbability": -4.6}]}]}
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP",
                              "logprobsResult": result}],
              "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1, "totalTokenCount": 6},
              "modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    fake_upstream.reply(Reply.json(answer))
    whole = http.post("/chat/completions", json={"model": "google/gemini-2.5-flash", **ASK})
    assert whole.status_code == 200, whole.text
    expected = [{"token": "Hi", "logprob": -0.01, "bytes": [72, 105], "top_logprobs": [
        {"token": "Hi", "logprob": -0.01, "bytes": [72, 105]},
        {"token": "Hello", "logprob": -4.6, "bytes": [72, 101, 108, 108, 111]}]}]
    assert whole.json()["choices"][0]["logprobs"]["content"] == expected
    generation = fake_upstream.requests[0].json()["generationConfig"]
    assert (generation["responseLogprobs"], generation["logprobs"]) == (True, 2)

    fake_upstream.reply(Reply.sse([f"data: {json.dumps(answer)}\r\n\r\n"]))
    assert streamed_logprobs(chunks(http, {"model": "google/gemini-2.5-flash", **ASK})) == expected
