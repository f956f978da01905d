"""Every OpenRouter request field, for each wire format, streamed and not: where it lands upstream, or the
documented 400 / filter (the table: tests/request_fields.py). OpenRouter's own schema accepts every request of
the table, and none gets a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway, running_gateway
from tests.openrouter_contract import validate
from tests.request_fields import DISPLAY, FORMATS, MODELS, ROWS, At, Expect, Gone, No, Row

CATALOG = Path(__file__).parent / "data" / "fields-models.toml"
SLUGS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google-ai-studio", "bedrock": "amazon-bedrock"}
# OpenRouter's request schema for POST /chat/completions (tests/openrouter_api/openapi.yaml).
CHAT_REQUEST = "paths/~1chat~1completions/post/requestBody/content/application~1json/schema"
MISSING = object()


@pytest.fixture(scope="module")
def fields_gateway(own_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    RunningGateway
]:
    with running_gateway(tmp_path_factory.mktemp("fields"), own_upstream_server.url,
                         {"LAMBDAROUTER_CONFIG": str(CATALOG)}) as running:
        yield running


def request_body(row: Row, wire: str, stream: bool) -> dict[str, Any]:
    _, fragment, _ = row
    text = (json.dumps(fragment).replace("__DISPLAY__", DISPLAY[wire]).replace("__SLUG__", SLUGS[wire].upper())
            .replace("__MODEL__", MODELS[wire]))
    return {"model": MODELS[wire], "messages": [{"role": "user", "content": "Hi"}], **json.loads(text),
            "stream": stream}


def reply(wire: str, stream: bool) -> Reply:
    return Reply.from_recording(load_recording(f"{wire}/{'text-stream' if stream else 'text-basic'}"))


def found(body: Any, path: tuple[str | int, ...]) -> Any:
    """The value at `path` (keys and list indexes, negative from the end), or MISSING."""
    for step in path:
        reachable = (step in body) if isinstance(body, dict) else (
            isinstance(body, list) and isinstance(step, int) and -len(body) <= step < len(body))
        if not reachable:
            return MISSING
        body = body[step]
    return body


def check(sent: dict[str, Any], expect: At | Gone) -> None:
    value = found(sent, expect.path)
    if isinstance(expect, At):
        assert value == expect.value, f"at {expect.path}: {value!r}, expected {expect.value!r}\nsent: {sent}"
    else:
        assert value is MISSING, f"{expect.path} should not be sent upstream: {value!r}"


def post(gateway: RunningGateway, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {gateway.key}"}
    with httpx.stream("POST", f"{gateway.url}/chat/completions", json=body, headers=headers, timeout=30) as answer:
        raw = answer.read().decode()
    if answer.status_code == 200 and body["stream"]:
        events = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]", raw
        return 200, [json.loads(e) for e in events[:-1]]
    return answer.status_code, json.loads(raw)


CASES = [pytest.param(row, wire, stream, id=f"{row[0]}-{wire}-{'stream' if stream else 'whole'}")
         for row in ROWS for wire in FORMATS for stream in (False, True)]


@pytest.mark.parametrize(("row", "wire", "stream"), CASES)
def test_field_lands_where_the_provider_takes_it(row: Row, wire: str, stream: bool, fields_gateway: RunningGateway,
                                                own_upstream: FakeUpstream) -> None:
    expect: Expect = row[2][wire]
    body = request_body(row, wire, stream)
    if not isinstance(expect, No):
        own_upstream.reply(reply(wire, stream))
    status, answer = post(fields_gateway, body)
    if isinstance(expect, No):
        assert (status, answer["error"]["code"]) == (expect.status, expect.status), answer
        assert expect.text in answer["error"]["message"], answer
        assert not own_upstream.requests, "a refused request must not reach the provider"
        return
    assert status == 200, answer
    [sent] = own_upstream.requests
    for each in expect if isinstance(expect, tuple) else (expect,):
        check(sent.json() if wire != "bedrock" else json.loads(sent.body), each)
    provider = answer[0]["provider"] if stream else answer["provider"]
    assert provider == DISPLAY[wire]  # OpenRouter's display name, whichever way the client named the host


@pytest.mark.parametrize("row", [pytest.param(row, id=row[0]) for row in ROWS])
def test_openrouter_schema_accepts_every_request_of_the_table(row: Row) -> None:
    for wire in FORMATS:
        for stream in (False, True):
            validate(CHAT_REQUEST, request_body(row, wire, stream), f"the request {row[0]!r}")


def test_the_table_covers_every_field_of_openrouters_chat_request() -> None:
    from tests.openrouter_contract import schema

    documented = set(schema("ChatRequest")["properties"])
    sent = {key for row in ROWS for key in row[1]} | {"model", "messages", "stream"}
    guide = {"verbosity", "web_search_options", "include_reasoning", "top_a", "n", "store", "service_tier"}
    assert documented - sent == set(), f"fields of OpenRouter's ChatRequest without a row: {documented - sent}"
    assert guide <= sent
