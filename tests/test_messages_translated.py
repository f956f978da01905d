"""Models that do not speak Messages (GPT, Gemini) through /messages, read by the official `anthropic` SDK: the
request is translated into the canonical conversation and sent in the host's wire format; the answer comes back
as a Messages answer or stream. The upstream answers are real recorded exchanges (tests/recordings/)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from anthropic.types import Message

from tests.accounting import wait_for_records
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.messages_cases import sdk, sse_events

GPT = "openai/gpt-4o"
GEMINI = "google/gemini-2.5-flash"
GEMINI_3 = "google/gemini-3-pro-preview"
OPENAI_PATH = "/v1/chat/completions"
GEMINI_STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
SECRETS: Any = {"name": "secret_retrieval_tool", "description": "A tool that requires a password to retrieve a secret.",
           "input_schema": {"type": "object", "properties": {"password": {"type": "string"}},
                            "required": ["password"]}}
ASK_SECRETS: Any = [{"role": "user", "content": "Please retrieve the secrets associated with each of these passwords: "
                                                "mellon,radiance"}]
ASK_SUM: Any = [{"role": "user", "content": "What is 4200 + 42?"}]


def _key_hash(gateway: RunningGateway) -> str:
    from lambdarouter.store import hash_key

    return hash_key(gateway.key)


def test_gpt_answers_as_a_message(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("openai/text-basic")
    fake_upstream.reply(Reply.from_recording(rec), path=OPENAI_PATH)
    raw = sdk(gateway).messages.with_raw_response.create(model=GPT, max_tokens=128000, messages=ASK_SUM,
                                                         system="Answer briefly.", stop_sequences=["END"],
                                                         extra_body={"temperature": 0.5}, metadata={"user_id": "u-42"})
    message = raw.parse()
    expected = rec.body["choices"][0]["message"]["content"]
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", expected)]
    assert message.stop_reason == "end_turn" and message.model == GPT and message.id == raw.headers["x-generation-id"]
    usage = rec.body["usage"]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (usage["prompt_tokens"],
                                                                         usage["completion_tokens"])
    [sent] = fake_upstream.requests
    body = sent.json()
    assert body["messages"] == [{"role": "system", "content": "Answer briefly."}, {"role": "user",
                                                                                   "content": "What is 4200 + 42?"}]
    # Claude-sized max_tokens is held to GPT-4o's documented output cap instead of being refused by OpenAI.
    assert body["max_completion_tokens"] == 16384 and body["stop"] == ["END"] and body["temperature"] == 0.5
    assert body["user"] == "u-42"
    told = Decimal(str(json.loads(raw.http_response.text)["usage"]["cost"]))
    [record] = [r for r in wait_for_records(gateway, _key_hash(gateway), 1) if r.id == message.id]
    assert record.cost == told > 0 and record.model == GPT


@pytest.mark.parametrize(("model", "recording", "path"), [
    (GPT, "openai/tool-call-parallel-stream", OPENAI_PATH),
    (GEMINI, "gemini/tool-call-parallel-stream", GEMINI_STREAM),
])
def test_tools_over_two_turns(gateway: RunningGateway, fake_upstream: FakeUpstream, model: str, recording: str,
                              path: str) -> None:
    fake_upstream.reply(Reply.from_recording(load_recording(recording), chunk_delay=0.002), path=path)
    client = sdk(gateway)
    with client.messages.stream(model=model, max_tokens=1024, messages=ASK_SECRETS, tools=[SECRETS],
                                system="Use parallel tool calling.") as stream:
        first = stream.get_final_message()
    Message.model_validate(first.model_dump())
    calls = [b for b in first.content if b.type == "tool_use"]
    assert first.stop_reason == "tool_use"
    assert [(c.name, c.input) for c in calls] == [("secret_retrieval_tool", {"password": "mellon"}),
                                                  ("secret_retrieval_tool", {"password": "radiance"})]
    followup = load_recording("openai/tool-result-followup") if model == GPT else load_recording(
        "gemini/tool-result-followup")
    fake_upstream.reply(Reply.from_recording(followup), path=path.replace(":streamGenerateContent", ":generateContent"))
    history: Any = [*ASK_SECRETS, {"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                                                    for b in first.content]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c.id, "content": secret}
                                                 for c, secret in zip(calls, ("Welcome to Zion", "Life is beautiful"),
                                                                      strict=True)]}]
    second = client.messages.create(model=model, max_tokens=1024, messages=history, tools=[SECRETS])
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    sent = fake_upstream.requests[-1].json()
    if model == GPT:
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool", "tool"]
        assert [c["id"] for c in sent["messages"][1]["tool_calls"]] == [c.id for c in calls]
        assert [m["content"] for m in sent["messages"][2:]] == ["Welcome to Zion", "Life is beautiful"]
    else:
        parts = sent["contents"][1]["parts"]
        # Gemini's thought signature went out in a redacted_thinking block and came back on its call.
        assert parts[0]["functionCall"]["args"] == {"password": "mellon"} and parts[0]["thoughtSignature"]
        responses = sent["contents"][2]["parts"]
        assert [p["functionResponse"]["name"] for p in responses] == ["secret_retrieval_tool"] * 2


def test_gemini_thinking_streams_as_thinking_blocks(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("gemini/thinking-include-thoughts-stream")
    fake_upstream.reply(Reply.from_recording(rec), path=GEMINI_STREAM)
    with sdk(gateway).messages.stream(model=GEMINI, max_tokens=8000, messages=[{"role": "user", "content": "Primes?"}],
                                      thinking={"type": "enabled", "budget_tokens": 6400}) as stream:
        deltas = {event.delta.type for event in stream if event.type == "content_block_delta"}
        message = stream.get_final_message()
    thinking = [b for b in message.content if b.type == "thinking"]
    assert thinking and "Prime" in thinking[0].thinking and message.content[-1].type == "text"
    assert deltas == {"thinking_delta", "text_delta"}
    sent = fake_upstream.requests[0].json()
    assert sent["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    assert sent["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 6400


def test_gemini_3_thought_signature_round_trips(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    rec = load_recording("gemini/tool-call-stream-gemini3-thought-signature")
    path = "/v1beta/models/gemini-3-pro-preview:streamGenerateContent"
    fake_upstream.reply(Reply.from_recording(rec), path=path)
    tool: Any = {"name": "get_country", "description": "The user's country.", "input_schema": {"type": "object"}}
    client = sdk(gateway)
    with client.messages.stream(model=GEMINI_3, max_tokens=1024, tools=[tool], messages=[
            {"role": "user", "content": "What is the capital of the user country? Call the tool"}]) as stream:
        first = stream.get_final_message()
    assert [b.type for b in first.content] == ["tool_use", "redacted_thinking"]  # the signature follows its call
    fake_upstream.reply(Reply.json(load_recording("gemini/text-basic").body),
                        path="/v1beta/models/gemini-3-pro-preview:generateContent")
    call = next(b for b in first.content if b.type == "tool_use")
    history: Any = [
        {"role": "user", "content": "What is the capital of the user country? Call the tool"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "France"}]}]
    client.messages.create(model=GEMINI_3, max_tokens=1024, tools=[tool], messages=history)
    signature = rec.body.split('"thoughtSignature": "', 1)[1].split('"', 1)[0]
    model_turn = fake_upstream.requests[-1].json()["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == signature


def test_count_tokens_is_estimated_for_a_model_that_cannot_count(gateway: RunningGateway,
                                                                  fake_upstream: FakeUpstream) -> None:
    raw = sdk(gateway).messages.with_raw_response.count_tokens(model=GPT, messages=ASK_SUM, system="Be brief.")
    assert raw.headers["x-token-count"] == "estimate"
    assert raw.parse().input_tokens == -(-len("Be brief.What is 4200 + 42?") // 4) + 4 * 2
    assert fake_upstream.requests == []


def test_a_block_only_anthropic_can_read_is_a_400_for_gpt(gateway: RunningGateway,
                                                          fake_upstream: FakeUpstream) -> None:
    messages: Any = [{"role": "user", "content": [{"type": "search_result", "source": "s", "title": "t",
                                                   "content": [{"type": "text", "text": "x"}]}]}]
    with pytest.raises(anthropic.BadRequestError) as raised:
        sdk(gateway).messages.create(model=GPT, max_tokens=100, messages=messages)
    assert "search_result" in str(raised.value) and fake_upstream.requests == []


def test_upstream_rate_limit_is_a_rate_limit_error(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"error": {"message": "Rate limit reached", "type": "requests"}}, status=429),
                        path=OPENAI_PATH)
    with pytest.raises(anthropic.RateLimitError):
        sdk(gateway).messages.create(model=GPT, max_tokens=100, messages=ASK_SUM)


def test_stream_events_are_anthropics(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    import httpx

    from tests.messages_cases import anthropic_base

    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-stream")), path=OPENAI_PATH)
    answer = httpx.post(f"{anthropic_base(gateway)}/v1/messages", timeout=20, headers={"x-api-key": gateway.key},
                        json={"model": GPT, "max_tokens": 100, "stream": True, "messages": ASK_SUM})
    events = sse_events(answer.text)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "[DONE]" not in answer.text  # Anthropic's streams end on message_stop, with no OpenAI end marker
    assert set(names[1:-2]) == {"content_block_start", "content_block_delta", "content_block_stop"}
    assert Decimal(str(events[-2][1]["usage"]["cost"])) > 0


def test_gpt_thinks_at_the_effort_asked(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """Adaptive thinking at an effort (what Claude Code sends) is a reasoning model's reasoning effort; its
    reasoning tokens are counted and charged as output."""
    rec = load_recording("openai/usage-reasoning-tokens")
    fake_upstream.reply(Reply.from_recording(rec), path=OPENAI_PATH)
    message = sdk(gateway).messages.create(model="openai/o3-mini", max_tokens=4000, messages=ASK_SUM,
                                           thinking={"type": "adaptive"}, extra_body={"output_config": {
                                               "effort": "xhigh"}})
    assert fake_upstream.requests[0].json()["reasoning_effort"] == "high"
    assert message.usage.output_tokens == rec.body["usage"]["completion_tokens"]  # reasoning tokens included


@pytest.mark.parametrize("model", ["claude-opus-5-5", "anthropic/claude-sonnet-4", GPT, GEMINI])
def test_typed_errors_whatever_serves_the_model(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                model: str) -> None:
    from tests.accounting import new_key

    with pytest.raises(anthropic.AuthenticationError):
        sdk(gateway, key="sk-lr-v1-not-a-key").messages.create(model=model, max_tokens=10, messages=ASK_SUM)
    with pytest.raises(anthropic.BadRequestError):
        sdk(gateway).messages.create(model=model, max_tokens=10, messages=ASK_SUM, extra_body={"top_k": -1})
    poor, _ = new_key(gateway, limit=0.0000001)
    with pytest.raises(anthropic.PaymentRequiredError) as broke:
        sdk(gateway, key=poor).messages.create(model=model, max_tokens=10, messages=ASK_SUM)
    assert broke.value.body["error"]["type"] == "billing_error"  # type: ignore[index]
    limited, _ = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
    sdk(gateway, key=limited).messages.count_tokens(model=model, messages=ASK_SUM)  # not counted in the window
    # The first is admitted (and fails upstream: nothing is scripted there), the second is not.
    with pytest.raises(anthropic.InternalServerError):
        sdk(gateway, key=limited).messages.create(model=model, max_tokens=10, messages=ASK_SUM)
    with pytest.raises(anthropic.RateLimitError):
        sdk(gateway, key=limited).messages.create(model=model, max_tokens=10, messages=ASK_SUM)
    assert any("count" not in r.path for r in fake_upstream.requests)  # the admitted one reached its provider
