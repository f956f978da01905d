"""The JS clients people point at OpenRouter, against a real `lambdarouter serve`: OpenRouter's TypeScript SDK
(`@openrouter/sdk`, which validates every answer with zod), the Vercel AI SDK (`ai`) with OpenRouter's provider
(`@openrouter/ai-sdk-provider`), and the `openai` JS SDK. One `node tests/js/scenarios.mjs` process runs the
scenarios one at a time as the tests ask (what the client saw comes back as JSON); chat scenarios run on every
upstream wire format. The catalog, key, credit and generation routes are OpenRouter's SDK's (the openai SDK
has `models` only; the AI SDK none of them).

The packages are pinned by tests/js/package-lock.json and installed by ./scripts/test (`npm ci`).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.accounting import new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, RunningGateway
from tests.node_scenarios import NodeScenarios, node_scenarios
from tests.wire_formats import WIRE_FORMATS, ToolCall, WireFormat

JS = Path(__file__).parent / "js"
CLIENTS = ("orsdk", "vercel", "openai")
CALL = ToolCall("call_paris_1", "get_weather", {"city": "Paris"})
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
WIRES = sorted(WIRE_FORMATS)


class Scenarios(NodeScenarios):
    """The node process running tests/js/scenarios.mjs, each scenario for one of the clients."""

    def run(self, client: str, scenario: str, payload: dict[str, Any]) -> Any:
        return self.ask({"client": client, "scenario": scenario, "input": payload}, f"{client} {scenario}")


@pytest.fixture(scope="module")
def node() -> Iterator[Scenarios]:
    with node_scenarios(JS, "@openrouter/sdk", "the JS clients") as scenarios:
        yield Scenarios(scenarios.process)


def run(node: Scenarios, gateway: RunningGateway, client: str, scenario: str, **extra: Any) -> Any:
    """What `client` saw in `scenario` (a JSON object), or the test fails with the client's own error."""
    return node.run(client, scenario, {"url": gateway.url, "key": gateway.key, "adminKey": ADMIN_KEY, **extra})


def pinned(form: WireFormat) -> dict[str, str]:
    return {"model": form.model, "host": form.host}


def answering(node: Scenarios, gateway: RunningGateway, upstream: FakeUpstream, client: str, scenario: str,
              wire: str, pieces: list[str], stream: bool = False) -> Any:
    """What `client` saw in `scenario` when the provider of `wire` answers the text `pieces`."""
    form = WIRE_FORMATS[wire]
    upstream.reply(form.text(pieces, stream), path=form.path(stream))
    return run(node, gateway, client, scenario, **pinned(form))


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("client", CLIENTS)
def test_chat_with_usage(client: str, wire: str, node: Scenarios, gateway: RunningGateway,
                         fake_upstream: FakeUpstream) -> None:
    seen = answering(node, gateway, fake_upstream, client, "chat", wire, ["Bonjour ", "Paris"])
    assert seen["text"] == "Bonjour Paris"
    assert seen["finish"] == "stop"
    usage = seen["usage"]
    if client == "vercel":
        assert (usage["inputTokens"], usage["outputTokens"]) == (11, 7) and seen["cost"] > 0
    else:
        assert (usage["prompt_tokens" if client == "openai" else "promptTokens"], usage["cost"] > 0) == (11, True)


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("client", CLIENTS)
def test_stream(client: str, wire: str, node: Scenarios, gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    seen = answering(node, gateway, fake_upstream, client, "stream", wire, ["Bonjour ", "Paris ", "😀"], True)
    assert seen["text"] == "Bonjour Paris 😀"
    assert seen["finish"] == "stop"
    assert seen["usage"]["cost" if client != "vercel" else "outputTokens"] > 0


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("client", CLIENTS)
def test_tool_call_over_two_turns(client: str, wire: str, node: Scenarios, gateway: RunningGateway,
                                  fake_upstream: FakeUpstream) -> None:
    """The model calls a tool, the client runs it and sends the result, the model answers: OpenRouter's SDK by
    hand, the AI SDK's multi-step loop (`stopWhen`), the openai SDK's `runTools`."""
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.tool_call(CALL, False), path=form.whole_path)
    fake_upstream.reply(form.text(["Sunny, 21 °C."], False), path=form.whole_path)
    seen = run(node, gateway, client, "tools", **pinned(form))
    assert seen["text"] == "Sunny, 21 °C."
    if client == "orsdk":
        assert (seen["name"], seen["arguments"], seen["finish"]) == ("get_weather", CALL.arguments, "tool_calls")
    elif client == "vercel":
        assert seen["steps"] == 2 and seen["calls"] == [{"name": "get_weather", "input": CALL.arguments}]
    else:
        assert seen["calls"] == [{"name": "get_weather", "arguments": CALL.arguments}]
    assert "sunny" in json.dumps(fake_upstream.requests[-1].json())  # the result went back to the provider


@pytest.mark.parametrize("wire", WIRES)
def test_streamed_tool_loop_of_the_ai_sdk(wire: str, node: Scenarios, gateway: RunningGateway,
                                          fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.tool_call(CALL, True), path=form.stream_path)
    fake_upstream.reply(form.text(["Sunny, ", "21 °C."], True), path=form.stream_path)
    seen = run(node, gateway, "vercel", "streamTools", **pinned(form))
    assert seen == {"steps": 2, "text": "Sunny, 21 °C.", "calls": ["get_weather"]}


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("client", CLIENTS)
def test_structured_output(client: str, wire: str, node: Scenarios, gateway: RunningGateway,
                           fake_upstream: FakeUpstream) -> None:
    seen = answering(node, gateway, fake_upstream, client, "structured", wire, ['{"city": "Paris", ', '"celsius": 21}'])
    assert seen["object"] == {"city": "Paris", "celsius": 21}


@pytest.mark.parametrize("client", CLIENTS)
def test_models_fallback(client: str, node: Scenarios, gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    anthropic, openai = WIRE_FORMATS["anthropic"], WIRE_FORMATS["openai"]
    fake_upstream.reply(Reply.json({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                                   status=529), path=anthropic.whole_path)
    fake_upstream.reply(openai.text(["from the fallback"], False), path=openai.whole_path)
    seen = run(node, gateway, client, "fallback", model=anthropic.model, models=[openai.model],
               hosts=["anthropic", "openai"])
    assert seen == {"text": "from the fallback", "model": openai.model}


@pytest.mark.parametrize("client", CLIENTS)
def test_typed_errors(client: str, node: Scenarios, gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    broke, _ = new_key(gateway, limit=0)
    seen = run(node, gateway, client, "errors", brokeKey=broke)
    if client == "vercel":
        assert seen["statuses"] == [401, 400, 402]
        return
    expected = {"orsdk": ("UnauthorizedResponseError", "BadRequestResponseError", "PaymentRequiredResponseError"),
                "openai": ("AuthenticationError", "BadRequestError", "APIError")}[client]
    for label, name, status in zip(("unauthorized", "badRequest", "paymentRequired"), expected, (401, 400, 402),
                                   strict=True):
        assert (seen[label]["name"], seen[label]["status"]) == (name, status), seen[label]


def test_catalog_through_openrouters_sdk(node: Scenarios, gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    seen = run(node, gateway, "orsdk", "catalog")
    assert seen["listed"] == seen["totalCount"] == seen["count"] > 0
    assert seen["one"] == "anthropic/claude-sonnet-4.5" and isinstance(seen["promptPrice"], str)
    assert {"anthropic", "amazon-bedrock"} <= set(seen["tags"])
    assert {"openai", "anthropic", "google-ai-studio", "amazon-bedrock"} <= set(seen["providers"])


def test_catalog_through_the_openai_sdk(node: Scenarios, gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    seen = run(node, gateway, "openai", "catalog")
    assert seen["listed"] > 0
    assert (seen["one"], seen["object"], seen["ownedBy"]) == ("anthropic/claude-sonnet-4.5", "model", "anthropic")


def test_key_management_credits_and_generation(node: Scenarios, gateway: RunningGateway,
                                               fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=3)
    form = WIRE_FORMATS["gemini"]
    fake_upstream.reply(form.text(["ok"], True), path=form.stream_path)
    seen = run(node, gateway, "orsdk", "account", **pinned(form), key=plaintext)
    [record] = wait_for_records(gateway, key_hash, 1)
    assert seen["id"] == record.id and seen["limit"] == 3
    assert seen["createdLimit"] == 5 and seen["listed"] and seen["disabled"] and seen["deleted"]
    assert seen["totalUsage"] >= float(record.cost)
    generation = run(node, gateway, "orsdk", "generation", key=plaintext, generationId=record.id)
    assert generation == {"id": record.id, "cost": pytest.approx(float(record.cost)), "streamed": True,
                          "provider": "google-ai-studio"}


@pytest.mark.parametrize("client", CLIENTS)
def test_embeddings(client: str, node: Scenarios, gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"object": "list", "model": "text-embedding-3-small",
                                    "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
                                    "usage": {"prompt_tokens": 2, "total_tokens": 2}}), path="/v1/embeddings")
    seen = run(node, gateway, client, "embeddings", model="openai/text-embedding-3-small", host="openai")
    embedding = seen["embedding"]
    if isinstance(embedding, str):  # the openai SDK asks for base64 and decodes it itself; older ones do not
        embedding = list(struct.unpack("<2f", base64.b64decode(embedding)))
    assert embedding == [0.5, -0.25]


@pytest.mark.parametrize("client", CLIENTS)
def test_images(client: str, node: Scenarios, gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG}],
                                    "usage": {"input_tokens": 5, "output_tokens": 50, "total_tokens": 55}}),
                        path="/v1/images/generations")
    seen = run(node, gateway, client, "images", model="openai/gpt-image-1", host="openai")
    assert base64.b64decode(seen["b64"]) == base64.b64decode(PNG)
    if client != "openai":
        assert seen["mediaType"] == "image/png"
