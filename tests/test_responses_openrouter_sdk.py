"""OpenRouter's own Python SDK (`openrouter`, generated from OpenRouter's OpenAPI document; it validates every
answer with pydantic) against POST /responses: a whole answer and a stream, with reasoning and a tool call, on
OpenAI's Responses API (passed through) and on Claude (translated), and the 400 of `previous_response_id`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openrouter import OpenRouter, errors

from tests.fakes.upstream import FakeUpstream
from tests.gateway import RunningGateway
from tests.responses_cases import ANTHROPIC, OPENAI, Answer, Upstream
from tests.wire_formats import ToolCall

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def sdk(gateway: RunningGateway, fake_upstream: FakeUpstream) -> Iterator[Any]:
    """Typed `Any`: the SDK's generated signatures take its own classes, these scenarios pass plain dicts."""
    with OpenRouter(api_key=gateway.key, server_url=gateway.url) as client:
        yield client


@pytest.mark.parametrize("upstream", [OPENAI, ANTHROPIC], ids=lambda upstream: upstream.name)
def test_a_whole_answer_with_reasoning_and_a_call(upstream: Upstream, sdk: Any, fake_upstream: FakeUpstream) -> None:
    answer = Answer(reasoning="Use the tool.", signature="sig-or", call=ToolCall("call_or_1", "get_weather",
                                                                              {"city": "Oslo"}))
    fake_upstream.reply(upstream.reply(answer, False), path=upstream.path)
    result = sdk.responses.send(model=upstream.model, input="Weather in Oslo?", tools=[WEATHER],
                                reasoning={"effort": "low"}, **upstream.extra)
    assert [item.type for item in result.output][-1] == "function_call"
    call = result.output[-1]
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Oslo"}')
    assert result.usage is not None and result.usage.cost is not None and result.usage.cost > 0
    assert result.model == upstream.model and result.status == "completed"


@pytest.mark.parametrize("upstream", [OPENAI, ANTHROPIC], ids=lambda upstream: upstream.name)
def test_a_stream(upstream: Upstream, sdk: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(upstream.reply(Answer(text="Hej från Oslo", reasoning="Greet.", signature="s"), True),
                        path=upstream.path)
    events = list(sdk.responses.send(model=upstream.model, input="Say hi", stream=True, **upstream.extra))
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hej från Oslo"
    assert events[-1].type == "response.completed" and events[-1].response.usage.cost > 0


def test_previous_response_id_is_a_typed_400(sdk: Any, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(errors.BadRequestResponseError) as refused:
        sdk.responses.send(model="openai/gpt-5", input="hi", previous_response_id="resp_1")
    assert "stateless" in refused.value.data.error.message
    assert fake_upstream.requests == []
