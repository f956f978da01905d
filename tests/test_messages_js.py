"""The Anthropic TypeScript SDK (`@anthropic-ai/sdk`) against /messages of a real `lambdarouter serve`: create,
the `messages.stream` helper, tools over two turns, thinking, count tokens and its typed errors, through Claude
on Anthropic's API, Claude on Bedrock, GPT and Gemini (the last two answered by real recorded exchanges). One
`node tests/clients-anthropic/scenarios.mjs` process runs the scenarios one at a time (what the SDK saw comes
back as JSON). Installed by ./scripts/test (`npm ci`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.accounting import new_key
from tests.anthropic_cases import error_body, message_body, message_end, message_start, sse, text_block, tool_block
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.messages_cases import (
    ANTHROPIC_HOSTED,
    BEDROCK_HOSTED,
    BEDROCK_INVOKE,
    BEDROCK_STREAM,
    MESSAGES_PATH,
    OPUS_5_5,
    SONNET_4,
    Prices,
    anthropic_base,
    cost_of,
    invoke_stream,
)
from tests.node_scenarios import NodeScenarios, node_scenarios

CLIENTS = Path(__file__).parent / "clients-anthropic"
WEATHER = {"name": "get_weather", "description": "Weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


@dataclass(frozen=True)
class Host:
    """How a model is served, and how its fake upstream is told what to answer."""

    name: str
    model: str
    prices: Prices
    whole_path: str
    stream_path: str

    def reply(self, upstream: FakeUpstream, events: list[str]) -> None:
        """Script one answer, from the Messages events Anthropic would stream for it."""
        if self.name == "bedrock":
            upstream.reply(Reply(headers={"content-type": "application/vnd.amazon.eventstream"},
                                 chunks=invoke_stream(events)), path=self.stream_path)
        else:
            upstream.reply(Reply.sse(events), path=self.stream_path)

    def reply_whole(self, upstream: FakeUpstream, body: dict[str, Any], status: int = 200) -> None:
        upstream.reply(Reply.json(body, status=status), path=self.whole_path)


HOSTS = [Host("anthropic", ANTHROPIC_HOSTED, OPUS_5_5, MESSAGES_PATH, MESSAGES_PATH),
         Host("bedrock", BEDROCK_HOSTED, SONNET_4, BEDROCK_INVOKE, BEDROCK_STREAM)]


class Node(NodeScenarios):
    """The node process running tests/clients-anthropic/scenarios.mjs (Anthropic's TypeScript SDK); amounts
    read as Decimal, as the ledger keeps them."""

    def run(self, scenario: str, **payload: Any) -> Any:
        return self.ask({"scenario": scenario, "input": payload}, scenario)


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    with node_scenarios(CLIENTS, "@anthropic-ai/sdk", "the TypeScript SDK", parse_float=Decimal) as scenarios:
        yield Node(scenarios.process, Decimal)


def call(node: Node, gateway: RunningGateway, scenario: str, model: str, key: str | None = None,
         **extra: Any) -> Any:
    return node.run(scenario, baseURL=anthropic_base(gateway), apiKey=key or gateway.key, model=model,
                    **{"messages": ASK, **extra})


@pytest.mark.parametrize("host", HOSTS, ids=lambda h: h.name)
def test_create_and_stream(node: Node, gateway: RunningGateway, fake_upstream: FakeUpstream, host: Host) -> None:
    host.reply_whole(fake_upstream, message_body([{"type": "text", "text": "Sunny."}], input_tokens=11,
                                                 output_tokens=3))
    created = call(node, gateway, "create", host.model)
    assert created["message"]["content"] == [{"type": "text", "text": "Sunny."}]
    assert created["generationId"].startswith("gen-")
    assert Decimal(created["message"]["usage"]["cost"]) == cost_of(11, 3, prices=host.prices)

    host.reply(fake_upstream, [message_start(input_tokens=14), *text_block(0, "Sun", "ny."),
                               *message_end(output_tokens=4)])
    streamed = call(node, gateway, "stream", host.model)
    assert streamed["text"] == "Sunny." and streamed["message"]["stop_reason"] == "end_turn"
    assert [e["type"] for e in streamed["events"]] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"]
    delta = streamed["events"][-2]
    assert Decimal(delta["usage"]["cost"]) == cost_of(14, 4, prices=host.prices)
    assert (streamed["message"]["usage"]["input_tokens"], streamed["message"]["usage"]["output_tokens"]) == (14, 4)


@pytest.mark.parametrize("host", HOSTS, ids=lambda h: h.name)
def test_tools_over_two_turns(node: Node, gateway: RunningGateway, fake_upstream: FakeUpstream, host: Host) -> None:
    host.reply(fake_upstream, [message_start(), *text_block(0, "Checking."),
                               *tool_block(1, "toolu_w1", "get_weather", '{"city":', ' "Paris"}'),
                               *message_end("tool_use")])
    first = call(node, gateway, "stream", host.model, params={"tools": [WEATHER]})
    message = first["message"]
    assert message["stop_reason"] == "tool_use"
    assert message["content"][1] == {"type": "tool_use", "id": "toolu_w1", "name": "get_weather",
                                     "input": {"city": "Paris"}}
    host.reply_whole(fake_upstream, message_body([{"type": "text", "text": "It is sunny."}]))
    history = [*ASK, {"role": "assistant", "content": message["content"]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_w1", "content": "24°C"}]}]
    second = call(node, gateway, "create", host.model, messages=history, params={"tools": [WEATHER]})
    assert second["message"]["content"] == [{"type": "text", "text": "It is sunny."}]
    sent = fake_upstream.requests[-1].json()
    assert sent["messages"] == history  # the assistant turn the SDK assembled goes back as it came


@pytest.mark.parametrize("host", HOSTS, ids=lambda h: h.name)
def test_thinking_comes_back_with_its_signature(node: Node, gateway: RunningGateway, fake_upstream: FakeUpstream,
                                               host: Host) -> None:
    thinking = [sse("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                          "signature": ""}}),
                sse("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
                sse("content_block_delta", {"index": 0, "delta": {"type": "signature_delta",
                                                                  "signature": "EuYBsig=="}}),
                sse("content_block_stop", {"index": 0})]
    host.reply(fake_upstream, [message_start(), *thinking, *text_block(1, "42"), *message_end()])
    streamed = call(node, gateway, "stream", host.model, max_tokens=4096,
                    params={"thinking": {"type": "enabled", "budget_tokens": 2048}})
    assert streamed["message"]["content"][0] == {"type": "thinking", "thinking": "Hmm.", "signature": "EuYBsig=="}


@pytest.mark.parametrize("host", HOSTS, ids=lambda h: h.name)
def test_count_tokens(node: Node, gateway: RunningGateway, fake_upstream: FakeUpstream, host: Host) -> None:
    if host.name == "bedrock":
        fake_upstream.reply(Reply.json({"inputTokens": 17}),
                            path="/model/anthropic.claude-sonnet-4-20250514-v1:0/count-tokens")
    else:
        fake_upstream.reply(Reply.json({"input_tokens": 17}), path="/v1/messages/count_tokens")
    assert call(node, gateway, "count", host.model) == {"input_tokens": 17}


@pytest.mark.parametrize("host", HOSTS, ids=lambda h: h.name)
def test_typed_errors(node: Node, gateway: RunningGateway, fake_upstream: FakeUpstream, host: Host) -> None:
    unauthorized = call(node, gateway, "error", host.model, key="sk-lr-v1-wrong")
    assert (unauthorized["raised"], unauthorized["status"], unauthorized["type"]) == (
        "AuthenticationError", 401, "authentication_error")
    invalid = call(node, gateway, "error", host.model, params={"temperature": 7})
    assert (invalid["raised"], invalid["status"], invalid["type"]) == ("BadRequestError", 400, "invalid_request_error")
    poor, _ = new_key(gateway, limit=0.0001)
    broke = call(node, gateway, "error", host.model, key=poor, max_tokens=60000)
    assert (broke["status"], broke["type"]) == (402, "billing_error")
    limited, _ = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
    host.reply_whole(fake_upstream, message_body([{"type": "text", "text": "ok"}]))
    call(node, gateway, "create", host.model, key=limited)
    throttled = call(node, gateway, "error", host.model, key=limited)
    assert (throttled["raised"], throttled["status"], throttled["type"]) == (
        "RateLimitError", 429, "rate_limit_error")
    if host.name == "anthropic":
        host.reply_whole(fake_upstream, error_body("overloaded_error", "Overloaded"), status=529)
        overloaded = call(node, gateway, "error", host.model)
        assert (overloaded["status"], overloaded["type"]) == (529, "overloaded_error")


# -- models translated from Messages (GPT, Gemini), answered by real recorded exchanges ----------------------

@dataclass(frozen=True)
class Translated:
    name: str
    model: str
    text: tuple[str, str]  # (recording, path) of a streamed text answer
    tools: tuple[str, str]  # ... of a streamed parallel tool call
    followup: tuple[str, str]  # ... of the whole answer to the tool results


TRANSLATED = [
    Translated("gpt", "openai/gpt-4o", ("openai/text-stream", "/v1/chat/completions"),
               ("openai/tool-call-parallel-stream", "/v1/chat/completions"),
               ("openai/tool-result-followup", "/v1/chat/completions")),
    Translated("gemini", "google/gemini-2.5-flash",
               ("gemini/text-stream", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
               ("gemini/tool-call-parallel-stream", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
               ("gemini/tool-result-followup", "/v1beta/models/gemini-2.5-flash:generateContent")),
]
SECRETS = {"name": "secret_retrieval_tool", "description": "A tool that requires a password to retrieve a secret.",
           "input_schema": {"type": "object", "properties": {"password": {"type": "string"}}}}


def _replay(upstream: FakeUpstream, exchange: tuple[str, str]) -> None:
    upstream.reply(Reply.from_recording(load_recording(exchange[0])), path=exchange[1])


@pytest.mark.parametrize("host", TRANSLATED, ids=lambda h: h.name)
def test_translated_stream_tools_count_and_errors(node: Node, gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                  host: Translated) -> None:
    _replay(fake_upstream, host.text)
    streamed = call(node, gateway, "stream", host.model, messages=[{"role": "user", "content": "What is 4200 + 42?"}])
    assert "4242" in streamed["text"].replace(",", "") and streamed["message"]["stop_reason"] == "end_turn"
    assert streamed["events"][0]["type"] == "message_start" and streamed["events"][-1]["type"] == "message_stop"
    assert Decimal(streamed["events"][-2]["usage"]["cost"]) > 0

    _replay(fake_upstream, host.tools)
    ask = [{"role": "user", "content": "Please retrieve the secrets associated with each of these passwords: "
                                       "mellon,radiance"}]
    first = call(node, gateway, "stream", host.model, messages=ask, params={"tools": [SECRETS]})["message"]
    calls = [b for b in first["content"] if b["type"] == "tool_use"]
    assert first["stop_reason"] == "tool_use" and [c["input"] for c in calls] == [{"password": "mellon"},
                                                                                  {"password": "radiance"}]
    _replay(fake_upstream, host.followup)
    history = [*ask, {"role": "assistant", "content": first["content"]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c["id"], "content": "secret"}
                                            for c in calls]}]
    second = call(node, gateway, "create", host.model, messages=history, params={"tools": [SECRETS]})
    assert second["message"]["content"][0]["type"] == "text" and second["message"]["stop_reason"] == "end_turn"

    assert call(node, gateway, "count", host.model)["input_tokens"] > 0  # estimated: neither can count for us
    unauthorized = call(node, gateway, "error", host.model, key="sk-lr-v1-wrong")
    assert (unauthorized["raised"], unauthorized["type"]) == ("AuthenticationError", "authentication_error")
    poor, _ = new_key(gateway, limit=0.0000001)
    assert call(node, gateway, "error", host.model, key=poor)["type"] == "billing_error"
    invalid = call(node, gateway, "error", host.model, messages=[{"role": "user", "content": [
        {"type": "container_upload", "file_id": "f"}]}])
    assert (invalid["raised"], invalid["type"]) == ("BadRequestError", "invalid_request_error")
    limited, _ = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
    _replay(fake_upstream, host.text)
    call(node, gateway, "stream", host.model, key=limited)
    assert call(node, gateway, "error", host.model, key=limited)["raised"] == "RateLimitError"


def test_gemini_thinking_through_the_typescript_sdk(node: Node, gateway: RunningGateway,
                                                    fake_upstream: FakeUpstream) -> None:
    _replay(fake_upstream, ("gemini/thinking-include-thoughts-stream",
                            "/v1beta/models/gemini-2.5-flash:streamGenerateContent"))
    streamed = call(node, gateway, "stream", "google/gemini-2.5-flash", max_tokens=8000,
                    params={"thinking": {"type": "enabled", "budget_tokens": 6400}})
    kinds = [b["type"] for b in streamed["message"]["content"]]
    assert kinds[0] == "thinking" and kinds[-1] == "text"
