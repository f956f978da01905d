"""The chat route's contract: real streaming, the SDK's helpers, and a clear 4xx for every bad input."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from tests.fakes.recordings import load_recording
from tests.fakes.upstream import HEADERS, NEVER, FakeUpstream, Reply
from tests.gateway import RunningGateway

UPSTREAM_PATH = "/v1/chat/completions"
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def chunk_event(content: str | None = None, finish: str | None = None, usage: bool = False) -> str:
    chunk: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                             "choices": [] if usage else [{"index": 0, "delta": {}, "finish_reason": finish}]}
    if content is not None:
        chunk["choices"][0]["delta"] = {"content": content}
    if usage:
        chunk["usage"] = {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    return f"data: {json.dumps(chunk)}\n\n"


def spaced_stream(words: list[str], delay: float) -> Reply:
    events = [chunk_event(w) for w in words] + [chunk_event(finish="stop"), chunk_event(usage=True), "data: [DONE]\n\n"]
    return Reply.sse(events, chunk_delay=delay)


def gated_stream(words: list[str]) -> tuple[Reply, threading.Event]:
    """`spaced_stream` whose every event after the first word waits for the returned event."""
    rest = threading.Event()
    return dataclasses.replace(spaced_stream(words, 0.0), gates={1: rest}), rest


def test_streaming_is_real(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """The first word reaches the client while the upstream still holds back the rest (a gateway that buffered
    would wait for the end, which never comes before the client has the first word: the client times out)."""
    words = ["one ", "two ", "three ", "four ", "five"]
    reply, rest = gated_stream(words)
    fake_upstream.reply(reply, path=UPSTREAM_PATH)
    received: list[str] = []
    for chunk in client.chat.completions.create(model="openai/gpt-4o", messages=HELLO, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            received.append(chunk.choices[0].delta.content)
            rest.set()  # only now may the upstream send the other words
    assert received == words


def test_stream_helper_accumulates_parallel_tool_calls(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("openai/tool-call-parallel-stream")
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    with client.chat.completions.stream(model="openai/gpt-4o", messages=rec.request["messages"],
                                        tools=rec.request["tools"]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments) for c in calls if c.type == "function"] == [
        {"password": "mellon"}, {"password": "radiance"}]
    assert final.choices[0].finish_reason == "tool_calls"


class Author(BaseModel):
    first_name: str
    last_name: str


class Book(BaseModel):
    title: str
    author: Author
    rating: int


def test_json_schema_parse(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("openai/structured-output-json-schema")
    fake_upstream.reply(Reply.from_recording(rec), path=UPSTREAM_PATH)
    parsed = client.chat.completions.parse(model="openai/gpt-4o", messages=rec.request["messages"],
                                           response_format=Book)
    book = parsed.choices[0].message.parsed
    assert book is not None and book.title == "THE NAME OF THE WIND"
    sent = fake_upstream.requests[0].json()
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "Book"
    assert sent["response_format"]["json_schema"]["strict"] is True


def test_models_list(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"openai/gpt-4o", "anthropic/claude-3-opus", "google/gemini-pro"} <= ids


def test_unsupported_parameters_are_dropped(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """As OpenRouter does: a parameter the endpoint does not list never reaches it."""
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={
        "model": "openai/gpt-4o", "messages": HELLO, "top_k": 5, "repetition_penalty": 1.1, "temperature": 0.5,
        "provider": {"sort": "price"}, "transforms": [], "route": "fallback",
    })
    assert response.status_code == 200, response.text
    sent = fake_upstream.requests[0].json()
    assert "top_k" not in sent and "repetition_penalty" not in sent
    assert "provider" not in sent and "transforms" not in sent and "route" not in sent
    assert sent["temperature"] == 0.5


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"model": "openai/gpt-4o", "messages": [', "not valid JSON"),
    ("not an object", b'["hello"]', "Invalid request"),
    ("missing messages", b'{"model": "openai/gpt-4o"}', "messages"),
    ("empty messages", b'{"model": "openai/gpt-4o", "messages": []}', "messages"),
    ("wrong type", b'{"model": "openai/gpt-4o", "messages": "hello"}', "messages"),
    ("unknown role", b'{"model": "openai/gpt-4o", "messages": [{"role": "robot", "content": "x"}]}', "messages.0"),
    ("temperature out of range", b'{"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}],'
     b' "temperature": 7}', "temperature"),
    ("no model", b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
    ("unknown model", b'{"model": "nobody/nothing", "messages": [{"role": "user", "content": "x"}]}',
     "nobody/nothing is not a valid model ID"),
    ("unknown variant", b'{"model": "openai/gpt-4o:turbo", "messages": [{"role": "user", "content": "x"}]}',
     "variant"),
    ("bad content part", b'{"model": "openai/gpt-4o", "messages": [{"role": "user", "content": [{"type": "video"}]}]}',
     "messages.0"),
]


@pytest.mark.parametrize(("case", "body", "says"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_input_is_a_clear_400(case: str, body: bytes, says: str, http: httpx.Client,
                                  fake_upstream: FakeUpstream) -> None:
    response = http.post("/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400 and error["type"] == "invalid_request_error"
    assert says in error["message"]
    assert "Traceback" not in response.text
    assert fake_upstream.requests == []  # refused before any upstream call


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer sk-lr-v1-wrong", "Basic abc", "sk-lr-v1-x"])
def test_missing_or_wrong_key_is_401(authorization: str | None, gateway: RunningGateway,
                                     fake_upstream: FakeUpstream) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    response = httpx.post(f"{gateway.url}/chat/completions", headers=headers, timeout=10,
                          json={"model": "openai/gpt-4o", "messages": HELLO})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert fake_upstream.requests == []


def test_sdk_raises_typed_errors(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    bad = openai.OpenAI(base_url=gateway.url, api_key="sk-lr-v1-nope", max_retries=0, timeout=10)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    good = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0, timeout=10)
    with pytest.raises(openai.BadRequestError):
        good.chat.completions.create(model="nobody/nothing", messages=HELLO)


def test_unknown_route_and_method(http: httpx.Client) -> None:
    assert http.get("/nothing-here").json()["error"]["code"] == 404
    response = http.get("/chat/completions")
    assert response.status_code == 405 and response.json()["error"]["code"] == 405


def test_both_prefixes(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    base = gateway.url.removesuffix("/api/v1")
    for prefix in ("/api/v1", "/v1"):
        fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path=UPSTREAM_PATH)
        response = httpx.post(f"{base}{prefix}/chat/completions", timeout=10,
                              headers={"authorization": f"Bearer {gateway.key}"},
                              json={"model": "openai/gpt-4o", "messages": HELLO})
        assert response.status_code == 200, (prefix, response.text)
        assert httpx.get(f"{base}{prefix}/models", timeout=10).status_code == 200


def test_upstream_failures_map_to_the_envelope(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"error": {"message": "slow down"}}, status=429, headers={"retry-after": "7"}),
                        path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["metadata"]["provider_name"] == "openai"

    fake_upstream.reply(Reply(reset_before_headers=True), path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO})
    assert response.status_code == 502
    assert "could not reach" in response.json()["error"]["message"]

    fake_upstream.reply(Reply(status=200, headers={"content-type": "application/json"}, body=b"{not json"),
                        path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO})
    assert response.status_code == 502


def test_mid_stream_failure_ends_with_an_error_chunk(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    reply = spaced_stream(["a", "b", "c", "d"], delay=0.01)
    fake_upstream.reply(Reply(status=200, headers=reply.headers, chunks=reply.chunks, reset_after_chunks=2),
                        path=UPSTREAM_PATH)
    with http.stream("POST", "/chat/completions",
                     json={"model": "openai/gpt-4o", "messages": HELLO, "stream": True}) as response:
        assert response.status_code == 200
        text = response.read().decode()
    lines = [line for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    errors = [c for c in chunks if "error" in c]
    assert len(errors) == 1 and errors[0]["choices"][0]["finish_reason"] == "error"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "ab"


def test_provider_without_credentials_is_503(http: httpx.Client) -> None:
    response = http.post("/chat/completions", json={"model": "mistralai/mistral-large", "messages": HELLO})
    assert response.status_code == 503
    assert "MISTRAL_API_KEY" in response.json()["error"]["message"]


def test_user_config_adds_a_host_as_one_data_row(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """`LAMBDAROUTER_CONFIG` (tests/data/extra-models.toml) adds an OpenAI-compatible host and its model."""
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path="/vllm/v1/chat/completions")
    response = http.post("/chat/completions", json={"model": "acme/house-model", "messages": HELLO})
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "Local vLLM"
    assert fake_upstream.requests[0].json()["model"] == "house-model-7b"


def test_user_config_adds_an_endpoint_to_a_bundled_model(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """Llama 3.3 70B served by Groq, Together and Bedrock: the Groq row comes from LAMBDAROUTER_CONFIG."""
    listed = http.get("/models/meta-llama/llama-3.3-70b-instruct/endpoints").json()["data"]["endpoints"]
    tags = {e["tag"] for e in listed}
    assert {"groq", "together", "amazon-bedrock"} <= tags
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path="/groq/v1/chat/completions")
    response = http.post("/chat/completions", json={"model": "meta-llama/llama-3.3-70b-instruct", "messages": HELLO,
                                                    "provider": {"only": ["groq"]}})
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "Groq"
    assert fake_upstream.requests[0].json()["model"] == "llama-3.3-70b-versatile"


def test_server_timing_splits_gateway_and_upstream_time(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply(status=200, headers={"content-type": "application/json"}, stall=0.2,
                              body=load_recording("openai/text-basic").body_bytes()), path=UPSTREAM_PATH)
    response = http.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO})
    assert response.status_code == 200
    timing = dict(part.strip().split(";dur=") for part in response.headers["server-timing"].split(","))
    assert float(timing["upstream"]) >= 200  # the upstream's own stall is on the upstream's side
    assert float(timing["gateway"]) >= 0  # how much the gateway took is bench/'s business, not a test's


def test_reasoning_exclude_hides_reasoning_but_keeps_its_usage(http: httpx.Client,
                                                               fake_upstream: FakeUpstream) -> None:
    rec = load_recording("anthropic/thinking")
    fake_upstream.reply(Reply.from_recording(rec), path="/v1/messages")
    response = http.post("/chat/completions", json={
        "model": "anthropic/claude-sonnet-4-0", "messages": HELLO, "max_tokens": 8000,
        "reasoning": {"max_tokens": 6400, "exclude": True}})
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["content"]
    assert message["reasoning"] is None
    assert "reasoning_details" not in message  # an optional array: left out, never null
    assert response.json()["usage"]["completion_tokens"] == rec.json_body()["usage"]["output_tokens"]


def test_a_host_has_its_own_read_timeout(gateway: RunningGateway, http: httpx.Client,
                                        fake_upstream: FakeUpstream) -> None:
    """`read_timeout = 0.5` on the host row wins over the gateway-wide 10 s (LAMBDAROUTER_READ_TIMEOUT of the test
    gateway): the upstream never answers, and the client gives up at 9 s, before a gateway-wide timeout could
    answer, but 18 times the host's."""
    fake_upstream.reply(Reply(status=200, headers={"content-type": "application/json"}, gates={HEADERS: NEVER},
                              body=load_recording("openai/text-basic").body_bytes()), path="/vllm/v1/chat/completions")
    gateway_wide = float(gateway.env["LAMBDAROUTER_READ_TIMEOUT"])
    response = http.post("/chat/completions", json={"model": "acme/impatient-model", "messages": HELLO},
                         timeout=httpx.Timeout(gateway_wide + 5, read=gateway_wide - 1))
    assert response.status_code == 408
