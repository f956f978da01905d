"""POST /responses with the official `openai` Python SDK (`responses.create`, `.stream`, `.parse`) through OpenAI's
own Responses API (native passthrough), Anthropic, Gemini and Bedrock (translated): text with reasoning, tools
over two turns with the reasoning's signature coming back, structured output. Every streamed event validates
against the SDK's own event types, and the cost the client is told is the ledger's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx2 as httpx  # the `openai` SDK's HTTP client (a fork of httpx under its own name)
import openai
import pytest
from pydantic import BaseModel

from tests.accounting import exact_json, ledger
from tests.fakes.upstream import FakeUpstream
from tests.gateway import RunningGateway
from tests.openrouter_contract import validate_answer
from tests.responses_cases import UPSTREAMS, Answer, Upstream, assert_valid_stream, sse_events
from tests.stores import wait
from tests.wire_formats import ToolCall

WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "The weather in a city now.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                               "additionalProperties": False}, "strict": True}


class Recorder(httpx.BaseTransport):
    """The SDK's HTTP transport, keeping the last answer's body as it was received."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.body = b""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.body = b""
        recorder = self

        class Tee(httpx.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                for chunk in response.stream:  # type: ignore[union-attr]
                    recorder.body += chunk
                    yield chunk

            def close(self) -> None:
                response.close()

        return httpx.Response(response.status_code, headers=response.headers, stream=Tee(), request=request)

    def text(self) -> str:
        return self.body.decode()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sdk(gateway: RunningGateway, fake_upstream: FakeUpstream, recorder: Recorder) -> Iterator[openai.OpenAI]:
    with httpx.Client(transport=recorder, timeout=15) as http:
        yield openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0, http_client=http)


def told_cost(recorder: Recorder, stream: bool) -> tuple[str, Decimal]:
    """(response id, usage.cost) exactly as the client received them; what was received is held to the `openai`
    SDK's types and to OpenRouter's own document of POST /responses."""
    if stream:
        events = sse_events(recorder.text())
        assert_valid_stream(events)
        body = json.loads(json.dumps(events[-1]["response"]), parse_float=Decimal)
    else:
        validate_answer("/responses", "post", json.loads(recorder.text()))
        body = exact_json(recorder.text())
    return str(body["id"]), Decimal(body["usage"]["cost"])


def assert_cost_booked(gateway: RunningGateway, recorder: Recorder, stream: bool) -> None:
    generation_id, cost = told_cost(recorder, stream)
    record = wait(ledger(gateway).get_generation(generation_id))
    assert record is not None and record.status == "success", record
    assert record.cost == cost > 0
    assert record.streamed is stream


def create(sdk: openai.OpenAI, upstream: Upstream, stream: bool, **kwargs: Any) -> Any:
    """`responses.create`, or `responses.stream` folded to its final response by the SDK."""
    if not stream:
        return sdk.responses.create(model=upstream.model, extra_body=upstream.extra or None, **kwargs)
    with sdk.responses.stream(model=upstream.model, extra_body=upstream.extra or None, **kwargs) as events:
        for _ in events:
            pass
        return events.get_final_response()


def by_name(upstream: Upstream) -> str:
    return upstream.name


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAMS, ids=by_name)
def test_text_with_reasoning(upstream: Upstream, stream: bool, sdk: openai.OpenAI, recorder: Recorder,
                             fake_upstream: FakeUpstream, gateway: RunningGateway) -> None:
    answer = Answer(text="2 + 2 = 4 ✓ — naïve café 🧮", reasoning="Adding two and two.", signature="sig-text")
    fake_upstream.reply(upstream.reply(answer, stream), path=upstream.path)
    response = create(sdk, upstream, stream, input="What is 2 + 2?", reasoning={"effort": "low", "summary": "auto"},
                      instructions="Answer briefly.")
    assert response.output_text == answer.text
    assert response.status == "completed" and response.model == upstream.model
    # Gemini signs the part after the thoughts: its signature is a reasoning item of its own, after the message.
    reasoning = [item for item in response.output if item.type == "reasoning"]
    shown = [part.text for item in reasoning for part in [*item.summary, *(item.content or ())]]
    assert "".join(shown) == answer.reasoning
    assert any(item.encrypted_content for item in reasoning)
    assert_cost_booked(gateway, recorder, stream)


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAMS, ids=by_name)
def test_tools_over_two_turns(upstream: Upstream, stream: bool, sdk: openai.OpenAI, recorder: Recorder,
                              fake_upstream: FakeUpstream, gateway: RunningGateway) -> None:
    call = ToolCall("call_weather_1", "get_weather", {"city": "Paris"})
    fake_upstream.reply(upstream.reply(Answer(reasoning="I need the weather tool.", signature="sig-tool-turn",
                                              call=call), stream), path=upstream.path)
    question: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = create(sdk, upstream, stream, input=question, tools=[WEATHER_TOOL],
                   reasoning={"effort": "medium"})
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert_cost_booked(gateway, recorder, stream)

    fake_upstream.reply(upstream.reply(Answer(text="It is 18°C and sunny in Paris."), stream), path=upstream.path)
    replayed = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
    output = {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18°C, sunny"}
    second = create(sdk, upstream, stream, input=[*question, *replayed, output], tools=[WEATHER_TOOL],
                    reasoning={"effort": "medium"})
    assert second.output_text == "It is 18°C and sunny in Paris."
    assert_cost_booked(gateway, recorder, stream)

    sent = list(fake_upstream.iter_requests(upstream.path))
    assert len(sent) == 2
    assert "18°C, sunny" in upstream.tool_result(sent[1].json())
    assert upstream.signature(sent[1].json()) == "sig-tool-turn"  # the reasoning came back, signed


class Weather(BaseModel):
    city: str
    celsius: int


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("upstream", UPSTREAMS, ids=by_name)
def test_structured_output(upstream: Upstream, stream: bool, sdk: openai.OpenAI, recorder: Recorder,
                           fake_upstream: FakeUpstream, gateway: RunningGateway) -> None:
    fake_upstream.reply(upstream.reply(Answer(text='{"city": "Paris", "celsius": 18}'), stream), path=upstream.path)
    kwargs: dict[str, Any] = {"model": upstream.model, "input": "Weather in Paris as JSON.", "text_format": Weather,
                              "extra_body": upstream.extra or None}
    if stream:
        with sdk.responses.stream(**kwargs) as events:
            for _ in events:
                pass
            parsed = events.get_final_response().output_parsed
    else:
        parsed = sdk.responses.parse(**kwargs).output_parsed
    assert parsed == Weather(city="Paris", celsius=18)
    assert_cost_booked(gateway, recorder, stream)
    sent = next(fake_upstream.iter_requests(upstream.path)).json()
    assert "celsius" in json.dumps(sent)  # the schema reached the provider
