"""OpenAI-format hosts: a whole conversation round-trips unchanged, and Azure is one more host row."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply

PIXEL = ("data:image/png;base64,"
         "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "lookup", "description": "Look a word up.",
    "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}}}]


def tool_call_reply() -> Reply:
    return Reply.json({"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o", "choices": [{
        "index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"word": "hex"}'}}]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59}})


def test_conversation_round_trips(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """System prompt, an image, a tool call, its result, a follow-up: the history reaches the host as sent."""
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": [{"type": "text", "text": "What shape is this?"},
                                     {"type": "image_url", "image_url": {"url": PIXEL}}]},
    ]
    fake_upstream.reply(tool_call_reply(), path="/v1/chat/completions")
    first = client.chat.completions.create(model="openai/gpt-4o", messages=messages, tools=TOOLS)
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.type == "function"
    messages.append(first.choices[0].message.model_dump(exclude_none=True))  # type: ignore[arg-type]
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "six-sided"})
    messages.append({"role": "user", "content": "So?"})
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path="/v1/chat/completions")
    second = client.chat.completions.create(model="openai/gpt-4o", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content
    assert second.choices[0].finish_reason == "stop"

    sent = fake_upstream.requests[1].json()
    assert sent["messages"][:2] == json.loads(json.dumps(messages[:2]))
    assert sent["messages"][2]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"word": "hex"}'}}]
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "six-sided"}
    assert sent["tools"] == TOOLS


def test_azure_is_an_openai_format_host(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """Azure's v1 API: the deployment name as `model`, the key in `api-key`, no bearer token."""
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")),
                        path="/azure/openai/v1/chat/completions")
    response = http.post("/chat/completions", json={
        "model": "openai/gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20,
        "provider": {"only": ["azure"]}})
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "Azure"
    [sent] = fake_upstream.requests
    assert sent.json()["model"] == "team-gpt-4-1"
    assert sent.json()["max_completion_tokens"] == 20
    assert sent.headers["api-key"] == "sk-upstream-secret-0123456789"
    assert "authorization" not in sent.headers
