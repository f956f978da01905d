"""The OpenAI Agents SDK (`openai-agents`) runs an agent with a function tool to its final answer through the
gateway's Responses API, on a non-OpenAI model (Claude on Anthropic's API, translated): the SDK's own loop
calls the model, runs the tool, sends its output back and gets the answer, run whole and streamed."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from agents import Agent, ModelSettings, OpenAIResponsesModel, RunConfig, Runner, function_tool, set_tracing_disabled

from tests.accounting import ledger
from tests.fakes.upstream import FakeUpstream
from tests.gateway import RunningGateway
from tests.responses_cases import ANTHROPIC, Answer
from tests.stores import wait
from tests.wire_formats import ToolCall

set_tracing_disabled(True)  # the SDK would otherwise export traces to api.openai.com


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city now."""
    return f"18°C and sunny in {city}"


def agent(gateway: RunningGateway) -> Agent:
    client = openai.AsyncOpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0, timeout=15)
    return Agent(name="Weather", instructions="Answer with the weather tool.", tools=[get_weather],
                 model=OpenAIResponsesModel(ANTHROPIC.model, client),
                 model_settings=ModelSettings(extra_body=ANTHROPIC.extra))


async def run(gateway: RunningGateway, stream: bool) -> tuple[str, list[str | None]]:
    """The final output, and the id of each response the agent got."""
    if not stream:
        result = await Runner.run(agent(gateway), "What's the weather in Paris?",
                                  run_config=RunConfig(tracing_disabled=True))
        return str(result.final_output), [r.response_id for r in result.raw_responses]
    streamed = Runner.run_streamed(agent(gateway), "What's the weather in Paris?",
                                   run_config=RunConfig(tracing_disabled=True))
    async for _ in streamed.stream_events():
        pass
    return str(streamed.final_output), [r.response_id for r in streamed.raw_responses]


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_streamed"])
def test_agent_runs_a_tool_to_its_final_answer(stream: bool, gateway: RunningGateway,
                                               fake_upstream: FakeUpstream) -> None:
    call = ToolCall("toolu_weather_1", "get_weather", {"city": "Paris"})
    fake_upstream.reply(ANTHROPIC.reply(Answer(text="Let me check.", call=call), stream), path=ANTHROPIC.path)
    fake_upstream.reply(ANTHROPIC.reply(Answer(text="It is 18°C and sunny in Paris."), stream), path=ANTHROPIC.path)

    final, response_ids = asyncio.run(run(gateway, stream))
    assert final == "It is 18°C and sunny in Paris."

    first, second = (r.json() for r in fake_upstream.iter_requests(ANTHROPIC.path))
    assert [tool["name"] for tool in first["tools"]] == ["get_weather"]
    assert ANTHROPIC.tool_result(second) == "18°C and sunny in Paris"  # the SDK ran the tool, the model got it
    assistant = second["messages"][-2]
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use"]
    assert assistant["content"][1]["input"] == {"city": "Paris"} and json.dumps(assistant).count("toolu_weather_1")
    records = [wait(ledger(gateway).get_generation(str(response_id))) for response_id in response_ids]
    assert len(records) == 2
    assert all(r is not None and r.status == "success" and r.streamed is stream for r in records), records
