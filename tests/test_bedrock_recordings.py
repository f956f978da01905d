"""Every recorded Bedrock exchange, replayed through a running gateway and read by the official SDK.

Both sides are checked: what the gateway sent upstream (path encoded as botocore encodes it, a SigV4
signature that verifies, a body equal to the recorded one after `bedrock_cases.normalized` and valid for
botocore's Converse input shape), and what the SDK parsed (text, tool calls, reasoning, finish reason,
usage and its cost). Cases the recordings lack (throttling, 5xx, exception frames mid-stream, truncated
streams, a streamed parallel tool call) are synthesized from the documented formats and marked so.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
import pytest

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.events import TokenUsage
from lambdarouter.core.pricing import generation_cost
from tests.bedrock_cases import (
    BEDROCK_ONLY,
    CLIENT_REQUESTS,
    client_request,
    exception,
    normalized,
    parallel_tool_stream,
    text_stream,
    upstream_model,
    validate_converse,
    verify_sigv4,
)
from tests.fakes.recordings import Recording, all_recordings, load_recording
from tests.fakes.upstream import FakeUpstream, ReceivedRequest, Reply
from tests.gateway import EXTRA_MODELS
from tests.openai_chunks import fold_chunks

SUCCESSES = [n for n in all_recordings("bedrock") if load_recording(n).status == 200]
ERRORS = [n for n in all_recordings("bedrock") if load_recording(n).status != 200]
EVENTSTREAM = {"content-type": "application/vnd.amazon.eventstream"}
# The recordings' own mapping of Converse stop reasons (test-side, independent of the adapter's table).
FINISH = {"end_turn": "stop", "tool_use": "tool_calls"}
NOVA = "amazon/nova-micro"
NOVA_CONVERSE = "/model/us.amazon.nova-micro-v1:0/converse"


def bedrock_endpoint(model_id: str) -> Any:
    return next(e for e in load_catalog(EXTRA_MODELS).models[model_id].endpoints if e.host == "amazon-bedrock")


def native_answer(rec: Recording) -> dict[str, Any]:
    """What the provider said, read straight from the recording (JSON body or decoded event view)."""
    answer: dict[str, Any] = {"content": "", "calls": [], "reasoning": "", "signatures": [], "finish": None,
                              "usage": None}
    if rec.is_eventstream:
        starts: dict[int, dict[str, str]] = {}
        for frame in rec.events() or ():
            kind, payload = frame["headers"][":event-type"], frame["payload"]
            if kind == "contentBlockStart" and "toolUse" in payload["start"]:
                tool = payload["start"]["toolUse"]
                starts[payload["contentBlockIndex"]] = {"id": tool["toolUseId"], "name": tool["name"], "arguments": ""}
                answer["calls"].append(starts[payload["contentBlockIndex"]])
            elif kind == "contentBlockDelta":
                delta = payload["delta"]
                answer["content"] += delta.get("text", "")
                if "toolUse" in delta:
                    starts[payload["contentBlockIndex"]]["arguments"] += delta["toolUse"]["input"]
                reasoning = delta.get("reasoningContent", {})
                answer["reasoning"] += reasoning.get("text", "")
                if "signature" in reasoning:
                    answer["signatures"].append(reasoning["signature"])
            elif kind == "messageStop":
                answer["finish"] = payload["stopReason"]
            elif kind == "metadata":
                answer["usage"] = payload["usage"]
        return answer
    body = rec.json_body()
    for block in body["output"]["message"]["content"]:
        answer["content"] += block.get("text", "")
        if "toolUse" in block:
            tool = block["toolUse"]
            answer["calls"].append({"id": tool["toolUseId"], "name": tool["name"],
                                    "arguments": json.dumps(tool["input"])})
        if "reasoningContent" in block:
            answer["reasoning"] += block["reasoningContent"]["reasoningText"]["text"]
            answer["signatures"].append(block["reasoningContent"]["reasoningText"]["signature"])
    answer["finish"], answer["usage"] = body["stopReason"], body["usage"]
    return answer


def expected_usage(model_id: str, native: dict[str, Any]) -> tuple[TokenUsage, float]:
    read, write = native.get("cacheReadInputTokens", 0), native.get("cacheWriteInputTokens", 0)
    usage = TokenUsage(prompt_tokens=native["inputTokens"] + read + write, completion_tokens=native["outputTokens"],
                       cached_tokens=read, cache_write_tokens=write)
    return usage, float(generation_cost(usage, bedrock_endpoint(model_id)))


def check_sent(rec: Recording, sent: ReceivedRequest, upstream_url: str, model_id: str, stream: bool) -> None:
    assert sent.method == "POST"
    assert sent.raw_path == urlsplit(rec.url).path  # `:` travels as %3A, exactly as botocore sent it
    assert sent.headers["content-type"] == "application/json"
    verify_sigv4(sent, upstream_url)
    body = sent.json()
    validate_converse(body, upstream_model(rec), stream)
    pinned = bedrock_endpoint(model_id).max_output_tokens if "thinking" in body.get(
        "additionalModelRequestFields", {}) else None
    assert normalized(body) == normalized(rec.request, pinned)


def got_answer_whole(completion: Any) -> dict[str, Any]:
    message = completion.choices[0].message
    extra = message.model_extra or {}
    return {
        "content": message.content or "",
        "calls": [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                  for c in message.tool_calls or ()],
        "reasoning": extra.get("reasoning") or "",
        "signatures": [d["signature"] for d in extra.get("reasoning_details") or () if d.get("signature")],
        "finish": completion.choices[0].finish_reason,
        "usage": completion.usage.model_dump(),
    }


def got_answer_stream(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    folded = fold_chunks(chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    return {
        "content": folded.content,
        "calls": [folded.tool_calls[i] for i in sorted(folded.tool_calls)],
        "reasoning": "".join(d.get("reasoning") or "" for d in deltas),
        "signatures": [x["signature"] for d in deltas for x in d.get("reasoning_details") or () if x.get("signature")],
        "finish": folded.finish_reason,
        "usage": folded.usage,
    }


@pytest.mark.parametrize("name", SUCCESSES)
def test_recorded_exchange(name: str, client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    fake_upstream.reply(Reply.from_recording(rec), path=rec.endpoint)
    request = client_request(rec)
    model_id = request["model"]

    if request.get("stream"):
        chunks = [c.model_dump() for c in client.chat.completions.create(**request)]
        assert chunks[-1]["choices"] == []  # usage rides on the last chunk
        got = got_answer_stream(chunks)
    else:
        completion = client.chat.completions.create(**request)
        assert completion.model == model_id
        assert completion.model_dump()["provider"] == "Amazon Bedrock"
        got = got_answer_whole(completion)

    [sent] = fake_upstream.requests
    check_sent(rec, sent, fake_upstream.url, model_id, bool(request.get("stream")))
    native = native_answer(rec)
    assert got["content"] == native["content"]
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in got["calls"]] == [
        (c["id"], c["name"], json.loads(c["arguments"])) for c in native["calls"]]
    assert (got["reasoning"], got["signatures"]) == (native["reasoning"], native["signatures"])
    assert got["finish"] == FINISH[native["finish"]]
    usage, cost = expected_usage(model_id, native["usage"])
    assert got["usage"]["prompt_tokens"] == usage.prompt_tokens
    assert got["usage"]["completion_tokens"] == usage.completion_tokens
    assert got["usage"]["prompt_tokens_details"]["cached_tokens"] == usage.cached_tokens
    assert got["usage"]["prompt_tokens_details"]["cache_write_tokens"] == usage.cache_write_tokens
    assert got["usage"]["cost"] == pytest.approx(cost, rel=1e-12)


def test_cache_write_is_billed_at_the_cache_write_price(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("bedrock/usage-cache-write")
    fake_upstream.reply(Reply.from_recording(rec), path=rec.endpoint)
    completion = client.chat.completions.create(**client_request(rec))
    endpoint = bedrock_endpoint("anthropic/claude-sonnet-4.5")
    assert endpoint.cache_write is not None and endpoint.cache_write > endpoint.prompt
    assert completion.usage is not None
    # 2 uncached + 1322 written (at 1.25x) + 5 completion tokens.
    expected = 2 * endpoint.prompt + 1322 * endpoint.cache_write + 5 * endpoint.completion
    assert completion.model_dump()["usage"]["cost"] == pytest.approx(float(expected), rel=1e-12)


# The recorded errors: (gateway status, does the gateway fall back to another endpoint?)
ERROR_EXPECTATIONS = {
    "bedrock/error-400-validation-invalid-model": (400, False),
    "bedrock/error-400-validation-invalid-model-stream": (400, False),
    "bedrock/error-403-expired-token": (502, True),  # the gateway's own credentials: an upstream fault
}


@pytest.mark.parametrize("name", ERRORS)
def test_recorded_error(name: str, http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    rec = load_recording(name)
    stream = rec.endpoint.endswith("-stream")
    fake_upstream.reply(Reply.from_recording(rec), path=f"{NOVA_CONVERSE}-stream" if stream else NOVA_CONVERSE)
    response = http.post("/chat/completions", json={"model": NOVA, "messages": [{"role": "user", "content": "hi"}],
                                                   "stream": stream})
    status, _ = ERROR_EXPECTATIONS[name]
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status
    assert error["metadata"]["provider_name"] == "amazon-bedrock"
    assert error["metadata"]["raw"] == rec.json_body()
    assert error["metadata"]["error_type"] == rec.response_headers["x-amzn-errortype"].split(":")[0]
    assert rec.json_body()["message"] in error["message"]


def openai_text_reply(fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path="/v1/chat/completions")


@pytest.mark.parametrize(("name", "reply"), [
    *[(n, None) for n in ERRORS],
    # Synthesized (no recording): the documented x-amzn-errortype header and {"message"} body.
    ("ThrottlingException", 429), ("ServiceUnavailableException", 503), ("ModelTimeoutException", 408),
])
def test_retryable_errors_fall_back_and_others_do_not(name: str, reply: int | None, http: httpx.Client,
                                                       fake_upstream: FakeUpstream) -> None:
    """Alone, the mapped error reaches the client; with a `models` list any error moves on to the next model
    (OpenRouter's model routing), so the OpenAI fallback answers."""
    if reply is None:
        rec = load_recording(name)
        upstream = Reply.from_recording(rec)
        status, _ = ERROR_EXPECTATIONS[name]
    else:
        upstream = Reply.json({"message": "Too many requests, please wait before trying again."}, status=reply,
                              headers={"x-amzn-errortype": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"})
        status = {429: 429, 503: 502, 408: 408}[reply]
    fake_upstream.reply(upstream, path="^/model/")
    response = http.post("/chat/completions", json={"model": NOVA, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == status
    assert response.json()["error"]["metadata"]["provider_name"] == "amazon-bedrock"

    fake_upstream.reply(upstream, path="^/model/")
    openai_text_reply(fake_upstream)
    response = http.post("/chat/completions", json={"model": NOVA, "models": ["openai/gpt-4o"],
                                                   "provider": {"ignore": ["azure"]},
                                                   "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.json()["provider"] == "OpenAI"
    assert [r.path.split("/")[1] for r in fake_upstream.requests] == ["model", "model", "v1"]


def test_synthesized_throttling_reaches_the_client_as_429(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"message": "Too many requests"}, status=429, headers={
        "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "retry-after": "2"}), path=NOVA_CONVERSE)
    response = http.post("/chat/completions", json={"model": NOVA, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 429
    assert response.json()["error"]["metadata"]["error_type"] == "ThrottlingException"
    assert response.headers.get("retry-after") == "2"


def sse_chunks_of(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [line[5:].strip() for line in response.iter_lines() if line.startswith("data:")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


@pytest.mark.parametrize(("kind", "status"), [("throttlingException", 429), ("modelStreamErrorException", 502),
                                              ("serviceUnavailableException", 502), ("validationException", 400)])
def test_exception_frame_mid_stream_ends_the_stream_with_an_error_chunk(
        kind: str, status: int, http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    # Synthesized: ConverseStream exception frames exist only in the API reference, not in any recording.
    frames = [*text_stream("Once upon")[:2], exception(kind, "The stream failed.")]
    fake_upstream.reply(Reply(headers=EVENTSTREAM, chunks=frames, chunk_delay=0.01), path=f"{NOVA_CONVERSE}-stream")
    body = {"model": NOVA, "messages": [{"role": "user", "content": "story"}], "stream": True}
    with http.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        chunks = sse_chunks_of(response)
    assert fold_chunks(chunks).content == "Once upon"
    [error] = [c for c in chunks if c.get("error")]
    assert error["error"]["code"] == status
    assert error["error"]["metadata"]["provider_name"] == "amazon-bedrock"
    assert error["error"]["metadata"]["raw"] == {"message": "The stream failed."}
    assert error["choices"][0]["finish_reason"] == "error"
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]


def test_truncated_stream_ends_with_a_502_error_chunk(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply(headers=EVENTSTREAM, chunks=text_stream("a", "b"), reset_after_chunks=3),
                        path=f"{NOVA_CONVERSE}-stream")
    body = {"model": NOVA, "messages": [{"role": "user", "content": "x"}], "stream": True}
    with http.stream("POST", "/chat/completions", json=body) as response:
        chunks = sse_chunks_of(response)
    assert fold_chunks(chunks).content == "ab"
    [error] = [c for c in chunks if c.get("error")]
    assert error["error"]["code"] == 502


def test_stream_helper_accumulates_a_streamed_parallel_tool_call(client: openai.OpenAI,
                                                                  fake_upstream: FakeUpstream) -> None:
    # Synthesized: the recordings have parallel calls only in a whole answer, streams with one call each.
    fake_upstream.reply(Reply(headers=EVENTSTREAM, chunks=parallel_tool_stream()), path=f"{NOVA_CONVERSE}-stream")
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    with client.chat.completions.stream(model=NOVA, messages=[{"role": "user", "content": "Paris and Rome?"}],
                                        tools=tools) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls if c.type == "function"] == [
        ("tooluse_paris", "get_weather", {"city": "Paris"}), ("tooluse_rome", "get_weather", {"city": "Rome"})]
    assert final.choices[0].message.content == "Checking both."
    assert final.choices[0].finish_reason == "tool_calls"


def test_replay_keeps_streaming_real(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """The recorded Nova stream (33 frames): the first text reaches the client while the upstream still holds
    back every frame after it (a gateway that buffered would wait for frames that never come: the client times
    out)."""
    rec = load_recording("bedrock/text-stream")
    frames = Reply.from_recording(rec)
    assert frames.chunks is not None
    first_text = next(i for i, frame in enumerate(frames.chunks) if b"contentBlockDelta" in frame)
    rest = threading.Event()
    fake_upstream.reply(dataclasses.replace(frames, gates={first_text + 1: rest}), path=rec.endpoint)
    texts: list[str] = []
    for chunk in client.chat.completions.create(**client_request(rec)):
        if chunk.choices and chunk.choices[0].delta.content:
            texts.append(chunk.choices[0].delta.content)
            rest.set()
    assert len(texts) > 5


def converse_reply(content: list[dict[str, Any]], stop: str) -> Reply:
    return Reply.json({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
                       "usage": {"inputTokens": 40, "outputTokens": 12, "totalTokens": 52},
                       "metrics": {"latencyMs": 5}})


def test_a_conversation_round_trips(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """System prompt, an image, a tool call, its result and a follow-up, on Claude through Bedrock."""
    model = "anthropic/claude-sonnet-4.6"
    path = "/model/us.anthropic.claude-sonnet-4-6/converse"
    png = load_recording("bedrock/image-input-base64").request["messages"][0]["content"][1]["image"]["source"]["bytes"]
    tools: Any = [{"type": "function", "function": {"name": "lookup_revenue", "description": "Revenue of a year",
                                                    "parameters": {"type": "object",
                                                                   "properties": {"year": {"type": "integer"}}}}}]
    messages: Any = [{"role": "system", "content": "You are a financial analyst."},
                     {"role": "user", "content": [{"type": "text", "text": "What was 2024 revenue?"},
                                                  {"type": "image_url",
                                                   "image_url": {"url": f"data:image/png;base64,{png}"}}]}]
    fake_upstream.reply(converse_reply([{"text": "Let me check."}, {"toolUse": {
        "toolUseId": "tooluse_1", "name": "lookup_revenue", "input": {"year": 2024}}}], "tool_use"), path=path)
    first = client.chat.completions.create(model=model, messages=messages, tools=tools, extra_body=BEDROCK_ONLY)
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and message.tool_calls
    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "$300M"}]
    fake_upstream.reply(converse_reply([{"text": "Revenue in 2024 was $300M."}], "end_turn"), path=path)
    second = client.chat.completions.create(model=model, messages=messages, tools=tools, extra_body=BEDROCK_ONLY)
    assert second.choices[0].message.content == "Revenue in 2024 was $300M."
    assert second.choices[0].finish_reason == "stop"

    body = fake_upstream.requests[1].json()
    validate_converse(body, "us.anthropic.claude-sonnet-4-6", stream=False)
    assert body["system"] == [{"text": "You are a financial analyst."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": png}}}
    assert body["messages"][1]["content"] == [
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tooluse_1", "name": "lookup_revenue", "input": {"year": 2024}}}]
    assert body["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "$300M"}]}}]


def test_reasoning_details_come_back_and_are_restored(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("bedrock/thinking")
    fake_upstream.reply(Reply.from_recording(rec), path=rec.endpoint)
    request = client_request(rec)
    first = client.chat.completions.create(**request)
    message = first.choices[0].message.model_dump(exclude_none=True)
    [detail] = message["reasoning_details"]
    assert detail["type"] == "reasoning.text" and detail["format"] == "amazon-bedrock" and detail["index"] == 0
    fake_upstream.reply(converse_reply([{"text": "You're welcome."}], "end_turn"), path=rec.endpoint)
    follow_up = [*request["messages"], message, {"role": "user", "content": "Thanks!"}]
    client.chat.completions.create(**{**request, "messages": follow_up})
    sent = fake_upstream.requests[1].json()
    assert sent["messages"][1]["content"] == rec.json_body()["output"]["message"]["content"]


def test_every_recording_is_covered() -> None:
    assert set(SUCCESSES) == set(CLIENT_REQUESTS)
    assert set(ERRORS) == set(ERROR_EXPECTATIONS)
