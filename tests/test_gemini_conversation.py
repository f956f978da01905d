"""A whole conversation through the gateway to Gemini, and the SDK's stream helper on Gemini's tool calls."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway, running_gateway
from tests.gemini_cases import SECRET_PROMPT, SECRET_TOOL

MODEL = "google/gemini-2.5-flash"
PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
PNG = load_recording("gemini/image-input-base64").request["contents"][0]["parts"][1]["inlineData"]["data"]


def test_system_image_tool_call_result_and_follow_up(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """Turn 1 asks (system prompt + image) and gets parallel tool calls with a thought signature; turn 2 sends
    the assistant message back as the SDK gave it plus both results, and gets the final answer."""
    calls_rec, answer_rec = load_recording("gemini/tool-call-parallel"), load_recording("gemini/tool-result-followup")
    fake_upstream.reply(Reply.from_recording(calls_rec), path=PATH)
    fake_upstream.reply(Reply.from_recording(answer_rec), path=PATH)
    messages: list[Any] = [
        {"role": "system", "content": "Use parallel tool calling."},
        {"role": "user", "content": [{"type": "text", "text": SECRET_PROMPT},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[SECRET_TOOL])  # type: ignore[list-item]
    assert first.choices[0].finish_reason == "tool_calls"
    assistant = first.choices[0].message.model_dump(exclude_none=True)
    calls = assistant["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"password": "mellon"},
                                                                        {"password": "radiance"}]
    results = {"mellon": "Welcome to Moria!", "radiance": "Life before Death"}
    messages += [assistant, *({"role": "tool", "tool_call_id": c["id"],
                               "content": results[json.loads(c["function"]["arguments"])["password"]]}
                              for c in calls)]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[SECRET_TOOL])  # type: ignore[list-item]

    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == answer_rec.json_body()["candidates"][0]["content"]["parts"][0]["text"]
    assert second.usage is not None and second.usage.prompt_tokens == 152
    sent = fake_upstream.requests[1].json()
    assert sent["systemInstruction"] == {"parts": [{"text": "Use parallel tool calling."}]}
    assert sent["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    # The model turn goes back as Gemini sent it: both calls, the signature unchanged on the first.
    assert sent["contents"][1] == {"role": "model", **{"parts": calls_rec.json_body()["candidates"][0]["content"]
                                                       ["parts"]}}
    assert sent["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "secret_retrieval_tool", "response": {"output": "Welcome to Moria!"}}},
        {"functionResponse": {"name": "secret_retrieval_tool", "response": {"output": "Life before Death"}}}]}


def test_stream_helper_accumulates_parallel_tool_calls(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("gemini/tool-call-parallel-stream")
    fake_upstream.reply(Reply.from_recording(rec), path="/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    with client.chat.completions.stream(model=MODEL, tools=[SECRET_TOOL],  # type: ignore[list-item]
                                        messages=[{"role": "user", "content": SECRET_PROMPT}]) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [json.loads(c.function.arguments) for c in calls if c.type == "function"] == [
        {"password": "mellon"}, {"password": "radiance"}]
    assert len({c.id for c in calls}) == 2
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.fixture(scope="module")
def fetching_gateway(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    RunningGateway
]:
    """A gateway allowed to fetch images from the fake upstream (a loopback address it refuses otherwise)."""
    host, port = fake_upstream_server.address
    with running_gateway(tmp_path_factory.mktemp("fetching"), fake_upstream_server.url,
                         {"LAMBDAROUTER_IMAGE_FETCH_ALLOW": f"{host}:{port}"}) as running:
        yield running


def test_an_http_image_url_reaches_gemini_as_inline_bytes(fetching_gateway: RunningGateway,
                                                          fake_upstream: FakeUpstream) -> None:
    """fileData takes no http(s) URLs, so the gateway fetches the image and Gemini gets inlineData."""
    fake_upstream.reply(Reply(headers={"content-type": "image/png"}, body=base64.b64decode(PNG)), path="/logo.png")
    fake_upstream.reply(Reply.from_recording(load_recording("gemini/image-input-base64")), path=PATH)
    client = openai.OpenAI(base_url=fetching_gateway.url, api_key=fetching_gateway.key, max_retries=0, timeout=15)
    completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What's in this image?"},
        {"type": "image_url", "image_url": {"url": f"{fake_upstream.url}/logo.png"}}]}])
    assert completion.choices[0].message.content
    sent = next(fake_upstream.iter_requests(PATH)).json()
    assert sent["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}


def test_a_private_image_url_is_refused_before_gemini(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    response = http.post("/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"{fake_upstream.url}/logo.png"}}]}]})
    assert response.status_code == 400
    assert fake_upstream.requests == []
