"""Whole conversations through the gateway to the Anthropic wire format, read by the official OpenAI SDK."""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from tests.anthropic_cases import (
    SECRETS_SYSTEM,
    SECRETS_TOOLS,
    SIGNED,
    UPSTREAM_PATH,
    assert_anthropic_headers,
    assert_valid_anthropic_request,
    message_body,
)
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply

# A 1x1 PNG.
PIXEL = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def test_conversation_with_image_tool_call_and_follow_up(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """System prompt, an image, a thinking tool call, its result, a follow-up: every piece survives the round
    trip, and the thinking block goes back to Anthropic exactly as it came."""
    # Synthesized answers in the documented Messages shape.
    thinking = {"type": "thinking", "thinking": "The photo shows Paris; check its weather.", "signature": "EqQBsig=="}
    call = {"type": "tool_use", "id": "toolu_01Weather", "name": "get_weather", "input": {"city": "Paris"}}
    fake_upstream.reply(Reply.json(message_body([thinking, {"type": "text", "text": "Let me check."}, call],
                                                "tool_use")), path=UPSTREAM_PATH)
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "It is sunny in Paris."}],
                                                cache_read_input_tokens=50)), path=UPSTREAM_PATH)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": [{"type": "text", "text": "What's the weather where this was taken?"},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}]},
    ]
    first = client.chat.completions.create(model="anthropic/claude-sonnet-4-0", messages=messages,
                                           tools=[WEATHER_TOOL],  # type: ignore[list-item]
                                           extra_body={"reasoning": {"max_tokens": 2048}})
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    [tool_call] = choice.message.tool_calls or []
    assert (tool_call.id, tool_call.function.name, json.loads(tool_call.function.arguments)) == (  # type: ignore[union-attr]
        "toolu_01Weather", "get_weather", {"city": "Paris"})
    assistant = choice.message.model_dump(exclude_none=True)
    assert assistant["reasoning"] == thinking["thinking"]
    assert assistant["reasoning_details"] == [{"type": "reasoning.text", "text": thinking["thinking"],
                                               "signature": thinking["signature"], "format": SIGNED, "index": 0}]

    second = client.chat.completions.create(
        model="anthropic/claude-sonnet-4-0", tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[*messages, assistant, {"role": "tool", "tool_call_id": tool_call.id, "content": "sunny, 24°C"}],  # type: ignore[list-item]
        extra_body={"reasoning": {"max_tokens": 2048}})
    assert second.choices[0].message.content == "It is sunny in Paris."
    assert second.choices[0].finish_reason == "stop"
    assert second.usage is not None and second.usage.prompt_tokens == 60  # 10 uncached + 50 cache reads

    first_sent, second_sent = (r.json() for r in fake_upstream.requests)
    for sent in fake_upstream.requests:
        assert_anthropic_headers(sent.headers)
        assert_valid_anthropic_request(sent.json())
    assert first_sent["system"] == second_sent["system"] == "You are a travel assistant."
    assert first_sent["messages"][0]["content"][1] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}
    assert second_sent["messages"][0] == first_sent["messages"][0]
    assert second_sent["messages"][1] == {"role": "assistant",
                                          "content": [thinking, {"type": "text", "text": "Let me check."}, call]}
    assert second_sent["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01Weather", "content": "sunny, 24°C"}]}
    assert second_sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_stream_helper_accumulates_parallel_tool_calls(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    """The recorded parallel tool use (a text block, then two tool_use blocks at content indices 1 and 2)
    reaches the SDK's stream helper as tool calls 0 and 1 with their arguments whole."""
    rec = load_recording("anthropic/tool-call-parallel-stream")
    fake_upstream.reply(Reply.from_recording(rec, chunk_delay=0.01), path=UPSTREAM_PATH)
    messages: list[Any] = [{"role": "system", "content": SECRETS_SYSTEM},
                           {"role": "user", "content": rec.request["messages"][0]["content"]}]
    with client.chat.completions.stream(model="anthropic/claude-sonnet-4-0", messages=messages, max_tokens=16000,
                                        tools=SECRETS_TOOLS) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I'll retrieve the secrets for both passwords you provided."
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("toolu_015cUijgET79LXjgeYQerN2h", "secret_retrieval_tool", {"password": "mellon"}),
        ("toolu_01XZTimPexA7h3EVKesnKt5T", "secret_retrieval_tool", {"password": "radiance"}),
    ]
    assert final.usage is not None and final.usage.completion_tokens == 109
    [sent] = fake_upstream.requests
    assert sent.json()["stream"] is True
