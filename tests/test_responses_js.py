"""POST /responses with the official `openai` JS SDK (tests/clients-responses/, pinned by its package-lock.json and
installed by ./scripts/test): `responses.create`, `.stream` and `.parse` with text and reasoning, tools over two
turns and structured output, through OpenAI's own Responses API (native), Anthropic, Gemini and Bedrock."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.accounting import ledger
from tests.fakes.upstream import FakeUpstream
from tests.gateway import RunningGateway
from tests.responses_cases import UPSTREAMS, Answer, Upstream
from tests.stores import wait
from tests.wire_formats import ToolCall

CLIENTS = Path(__file__).parent / "clients-responses"
SCRIPT = CLIENTS / "responses.mjs"
WEATHER_TOOL = {"type": "function", "name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
WEATHER_FORMAT = {"format": {"type": "json_schema", "name": "weather", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
    "required": ["city", "celsius"], "additionalProperties": False}}}

pytestmark = pytest.mark.skipif(not (CLIENTS / "node_modules" / "openai").is_dir(),
                                reason="tests/clients-responses is not installed: run ./scripts/test (it runs npm ci)")


@pytest.fixture(scope="module")
def node() -> Iterator[subprocess.Popen[str]]:
    """One node process for the module (its start and the SDK's import cost more than a call)."""
    process = subprocess.Popen(["node", str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               encoding="utf-8")
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


@pytest.fixture
def js(node: subprocess.Popen[str], gateway: RunningGateway) -> Callable[..., dict[str, Any]]:
    def call(mode: str, upstream: Upstream, **params: Any) -> dict[str, Any]:
        """One SDK call in node; what it answered (a failed call fails the test)."""
        assert node.stdin is not None and node.stdout is not None
        request = {"baseURL": gateway.url, "apiKey": gateway.key, "mode": mode,
                   "params": {"model": upstream.model, **upstream.extra, **params}}
        node.stdin.write(json.dumps(request) + "\n")
        node.stdin.flush()
        out: dict[str, Any] = json.loads(node.stdout.readline())
        assert "error" not in out, out
        return out
    return call


def assert_booked(gateway: RunningGateway, out: dict[str, Any]) -> None:
    record = wait(ledger(gateway).get_generation(out["response"]["id"]))
    assert record is not None and record.status == "success"
    assert float(record.cost) == out["response"]["usage"]["cost"] > 0


def by_name(upstream: Upstream) -> str:
    return upstream.name


@pytest.mark.parametrize("mode", ["create", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAMS, ids=by_name)
def test_text_with_reasoning(upstream: Upstream, mode: str, gateway: RunningGateway,
                             fake_upstream: FakeUpstream, js: Callable[..., dict[str, Any]]) -> None:
    answer = Answer(text="Bonjour 👋 — ça va?", reasoning="Greet in French.", signature="sig-js")
    fake_upstream.reply(upstream.reply(answer, mode == "stream"), path=upstream.path)
    out = js(mode, upstream, input="Say hi in French.", reasoning={"effort": "low", "summary": "auto"})
    assert out["output_text"] == answer.text
    assert "reasoning" in [item["type"] for item in out["response"]["output"]]
    if mode == "stream":
        assert out["events"][:2] == ["response.created", "response.in_progress"]
        assert out["events"][-1] == "response.completed" and "response.output_text.delta" in out["events"]
    assert_booked(gateway, out)


@pytest.mark.parametrize("mode", ["create", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAMS, ids=by_name)
def test_tools_over_two_turns(upstream: Upstream, mode: str, gateway: RunningGateway,
                              fake_upstream: FakeUpstream, js: Callable[..., dict[str, Any]]) -> None:
    stream = mode == "stream"
    call = ToolCall("call_js_1", "get_weather", {"city": "Lyon"})
    fake_upstream.reply(upstream.reply(Answer(reasoning="Use the tool.", signature="sig-js-tool", call=call), stream),
                        path=upstream.path)
    question = [{"role": "user", "content": "Weather in Lyon?"}]
    first = js(mode, upstream, input=question, tools=[WEATHER_TOOL], reasoning={"effort": "low"})
    calls = [item for item in first["response"]["output"] if item["type"] == "function_call"]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("get_weather", {"city": "Lyon"})]

    fake_upstream.reply(upstream.reply(Answer(text="Lyon: 21°C."), stream), path=upstream.path)
    result = {"type": "function_call_output", "call_id": calls[0]["call_id"], "output": "21°C, clear"}
    second = js(mode, upstream, input=[*question, *first["response"]["output"], result],
                tools=[WEATHER_TOOL], reasoning={"effort": "low"})
    assert second["output_text"] == "Lyon: 21°C."
    sent = [r.json() for r in fake_upstream.iter_requests(upstream.path)]
    assert "21°C, clear" in upstream.tool_result(sent[1])
    assert upstream.signature(sent[1]) == "sig-js-tool"
    assert_booked(gateway, first)
    assert_booked(gateway, second)


@pytest.mark.parametrize("mode", ["parse", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAMS, ids=by_name)
def test_structured_output(upstream: Upstream, mode: str, gateway: RunningGateway,
                           fake_upstream: FakeUpstream, js: Callable[..., dict[str, Any]]) -> None:
    fake_upstream.reply(upstream.reply(Answer(text='{"city":"Lyon","celsius":21}'), mode == "stream"),
                        path=upstream.path)
    out = js(mode, upstream, input="Weather in Lyon as JSON.", text=WEATHER_FORMAT)
    assert json.loads(out["output_text"]) == {"city": "Lyon", "celsius": 21}
    if mode == "parse":
        assert out["output_parsed"] == {"city": "Lyon", "celsius": 21}
    assert_booked(gateway, out)
