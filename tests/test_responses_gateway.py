"""POST /responses has everything the chat route has: auth, allow-lists, budgets (402), rate limits (429),
failover (native ↔ translated), one ledger row per generation with the cost the client is told (a stream that
fails midway included), /generation, idempotency. And it says clearly what it does not do: stored responses
(stateless), built-in tools on a model that is not OpenAI's."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openai.types.responses import Response

from tests import anthropic_cases as anthropic
from tests.accounting import as_key, exact_json, ledger, new_key
from tests.fakes import openai_responses as openai_fake
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.responses_cases import ANTHROPIC, Answer, assert_valid_stream, sse_events
from tests.stores import ledger_rows, wait

CLAUDE = {"model": ANTHROPIC.model, **ANTHROPIC.extra}


def post(http: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return http.post("/responses", json=body, headers=headers)


def told_cost(response: Response) -> Decimal:
    """`usage.cost`, OpenRouter's field beside OpenAI's usage (an extra of the SDK's type)."""
    assert response.usage is not None and response.usage.model_extra is not None
    return Decimal(str(response.usage.model_extra["cost"]))


def booked(gateway: RunningGateway, generation_id: str) -> Any:
    record = wait(ledger(gateway).get_generation(generation_id))
    assert record is not None
    return record


# -- what it refuses -----------------------------------------------------------------------------------------------
def test_a_missing_key_is_401_before_anything(gateway: RunningGateway) -> None:
    for method, path in (("POST", "/responses"), ("GET", "/responses/resp_1"), ("DELETE", "/responses/resp_1")):
        answer = httpx.request(method, gateway.url + path, json={"model": "openai/gpt-5", "input": "hi"})
        assert answer.status_code == 401, (method, answer.text)


@pytest.mark.parametrize("field", [{"previous_response_id": "resp_1"}, {"conversation": "conv_1"},
                                   {"background": True}])
def test_what_needs_a_stored_response_is_a_400_that_says_so(field: dict[str, Any], http: httpx.Client,
                                                            fake_upstream: FakeUpstream) -> None:
    answer = post(http, {"model": "openai/gpt-5", "input": "hi", **field})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "stateless" in error["message"] and next(iter(field)) in error["message"]
    assert error["metadata"]["parameter"] == next(iter(field))
    assert fake_upstream.requests == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_stored_responses_cannot_be_read_or_deleted(method: str, http: httpx.Client) -> None:
    answer = http.request(method, "/responses/gen-123")
    assert answer.status_code == 400 and "not stored" in answer.json()["error"]["message"]


def test_a_built_in_tool_on_a_model_that_is_not_openais_is_a_400_naming_it(http: httpx.Client,
                                                                           fake_upstream: FakeUpstream) -> None:
    answer = post(http, {**CLAUDE, "input": "news?", "tools": [{"type": "web_search"}]})
    assert answer.status_code == 400
    assert "'web_search'" in answer.json()["error"]["message"] and answer.json()["error"]["metadata"]["tool"] == (
        "web_search")
    assert fake_upstream.requests == []


def test_a_built_in_tool_narrows_a_fallback_list_to_openai(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    """Claude first, GPT-5 as fallback: only OpenAI can run web_search, so OpenAI answers, with the tool."""
    fake_upstream.reply(openai_fake.FakeResponse([openai_fake.message("Here is the news.")]).json_reply(),
                        path=openai_fake.UPSTREAM_PATH)
    answer = post(http, {"model": ANTHROPIC.model, "models": ["openai/gpt-5"], "input": "news?",
                         "tools": [{"type": "web_search", "search_context_size": "low"}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "openai/gpt-5"
    (sent,) = fake_upstream.requests
    assert sent.path == openai_fake.UPSTREAM_PATH and sent.json()["tools"] == [
        {"type": "web_search", "search_context_size": "low"}]


def test_bad_input_is_a_400_in_the_envelope(http: httpx.Client) -> None:
    for body in ({"model": "openai/gpt-5"}, {"model": "openai/gpt-5", "input": [{"role": "robot", "content": "x"}]},
                 {"model": "openai/gpt-5", "input": "hi", "temperature": 3},
                 {"model": "openai/gpt-5", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}):
        answer = post(http, body)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == 400, answer.text
    assert http.post("/responses", content=b"{not json").status_code == 400


# -- money ---------------------------------------------------------------------------------------------------------
def test_a_key_that_cannot_afford_the_worst_case_gets_402(gateway: RunningGateway,
                                                          fake_upstream: FakeUpstream) -> None:
    plaintext, _ = new_key(gateway, limit=0.0001)
    with as_key(gateway, plaintext) as http:
        answer = post(http, {"model": "openai/gpt-5", "input": "hi"})
    assert answer.status_code == 402 and fake_upstream.requests == []


def test_a_model_outside_the_keys_allow_list_is_403(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, _ = new_key(gateway, allowed_models=["openai/*"])
    with as_key(gateway, plaintext) as http:
        answer = post(http, {"model": "openai/gpt-5", "models": [ANTHROPIC.model], "input": "hi"})
    assert answer.status_code == 403 and ANTHROPIC.model in answer.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_the_rate_limit_counts_responses_requests(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, _ = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
    fake_upstream.reply(openai_fake.FakeResponse([openai_fake.message("one")]).json_reply(),
                        path=openai_fake.UPSTREAM_PATH)
    with as_key(gateway, plaintext) as http:
        first, second = (post(http, {"model": "openai/gpt-5", "input": "hi"}) for _ in range(2))
    assert first.status_code == 200 and second.status_code == 429
    assert second.headers["retry-after"]


def test_an_idempotent_answer_is_replayed_and_charged_once(gateway: RunningGateway,
                                                            fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway)
    fake_upstream.reply(openai_fake.FakeResponse([openai_fake.message("once")]).json_reply(),
                        path=openai_fake.UPSTREAM_PATH)
    body = {"model": "openai/gpt-5", "input": "hi"}
    with as_key(gateway, plaintext) as http:
        first, again = (post(http, body, **{"Idempotency-Key": "order-7"}) for _ in range(2))
    assert first.status_code == again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert first.json() == again.json() and len(fake_upstream.requests) == 1
    assert len(ledger_rows(ledger(gateway), key_hash)) == 1


def test_generation_reports_a_responses_answer(gateway: RunningGateway, http: httpx.Client,
                                               fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(ANTHROPIC.reply(Answer(text="ok", input_tokens=100, output_tokens=7), False),
                        path=ANTHROPIC.path)
    answer = post(http, {**CLAUDE, "input": "hi"})
    body = exact_json(answer.text)
    assert answer.headers["x-generation-id"] == body["id"]
    stats = http.get("/generation", params={"id": body["id"]}).json()["data"]
    assert (stats["tokens_prompt"], stats["tokens_completion"]) == (100, 7)
    assert Decimal(str(stats["total_cost"])) == body["usage"]["cost"] == booked(gateway, body["id"]).cost
    assert body["usage"]["input_tokens"] == 100 and body["usage"]["output_tokens"] == 7


# -- failover and failures -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_openai_failing_falls_over_to_a_translated_model(stream: bool, gateway: RunningGateway, http: httpx.Client,
                                                         fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"error": {"message": "overloaded", "type": "server_error"}}, status=503),
                        path=openai_fake.UPSTREAM_PATH)
    fake_upstream.reply(ANTHROPIC.reply(Answer(text="Claude here."), stream), path=ANTHROPIC.path)
    answer = post(http, {"model": "openai/gpt-5", "models": [ANTHROPIC.model], "provider": {"only": ["openai",
                                                                                                     "anthropic"]},
                         "input": "hi", "stream": stream})
    assert answer.status_code == 200, answer.text
    body = assert_valid_stream(sse_events(answer.text)).model_dump() if stream else answer.json()
    assert body["model"] == ANTHROPIC.model and body["output"][0]["content"][0]["text"] == "Claude here."
    record = booked(gateway, body["id"])
    assert [a[:2] for a in record.attempts] == [("openai", 502), ("anthropic", 200)]  # 502: the gateway's status


def test_a_native_stream_that_fails_midway_ends_failed_with_what_it_cost(gateway: RunningGateway, http: httpx.Client,
                                                                         fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(openai_fake.FakeResponse([openai_fake.message("A long answer that gets cut")]).sse_reply(
        cut_after=6), path=openai_fake.UPSTREAM_PATH)
    answer = post(http, {"model": "openai/gpt-5", "input": "hi", "stream": True})
    events = sse_events(answer.text)
    failed = assert_valid_stream(events)
    assert failed.status == "failed" and failed.error is not None and failed.usage is not None
    record = booked(gateway, failed.id)
    assert record.status == "error" and record.cost == told_cost(failed) > 0
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_a_translated_stream_that_fails_midway_ends_failed_with_what_it_cost(gateway: RunningGateway,
                                                                             http: httpx.Client,
                                                                             fake_upstream: FakeUpstream) -> None:
    events = [anthropic.message_start(input_tokens=40), *anthropic.text_block(0, "Half an ans", "wer"),
              anthropic.sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})]
    fake_upstream.reply(Reply.sse(events), path=ANTHROPIC.path)
    answer = post(http, {**CLAUDE, "input": "hi", "stream": True})
    failed = assert_valid_stream(sse_events(answer.text))
    assert failed.status == "failed" and failed.error is not None and "Overloaded" in failed.error.message
    assert failed.output[0].type == "message" and failed.output[0].status == "incomplete"
    record = booked(gateway, failed.id)
    assert record.status == "error" and record.cost == told_cost(failed) > 0


def test_an_answer_cut_by_max_output_tokens_is_incomplete(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.sse([anthropic.message_start(), *anthropic.text_block(0, "Once upon"),
                                   *anthropic.message_end("max_tokens", 16)]), path=ANTHROPIC.path)
    answer = post(http, {**CLAUDE, "input": "a story", "max_output_tokens": 16, "stream": True})
    events = sse_events(answer.text)
    incomplete = assert_valid_stream(events)
    assert events[-1]["type"] == "response.incomplete" and incomplete.incomplete_details is not None
    assert incomplete.incomplete_details.reason == "max_output_tokens"
    assert json.loads(fake_upstream.requests[0].body)["max_tokens"] == 16


def test_excluded_reasoning_is_billed_but_not_shown(gateway: RunningGateway, http: httpx.Client,
                                                    fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(ANTHROPIC.reply(Answer(text="4", reasoning="2+2", signature="s"), False), path=ANTHROPIC.path)
    answer = post(http, {**CLAUDE, "input": "2+2?", "reasoning": {"effort": "low", "exclude": True}})
    body = answer.json()
    assert [item["type"] for item in body["output"]] == ["message"]
    assert booked(gateway, body["id"]).completion_tokens == 12
