"""Fault injection (issue 15): every case of `tests/faults.py` through a real `lambdarouter serve`, with the primary
host alone and with a healthy fallback host, on a fake upstream of this module's own; then the same books checks
for the other formats and operations a hostile upstream reaches (Anthropic Messages, legacy completions,
embeddings). See tests/faults.py for each case's written expected outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from lambdarouter.core.budget import measure, quote
from lambdarouter.core.catalog import load_catalog
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.store import GenerationRecord
from lambdarouter.store.codec import encode_generation
from tests.accounting import as_key, exact_json, key_record, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.faults import CASES, FALLBACK_CHAT, PRIMARY_CHAT, Case, chunk, completion, sse, usage
from tests.gateway import EXTRA_MODELS, UPSTREAM_KEY, RunningGateway, running_gateway

LIMIT = Decimal(5)
MODEL = "resilience/openai-first"
CATALOG = load_catalog(EXTRA_MODELS)


@pytest.fixture(scope="module")
def gateway(own_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with running_gateway(tmp_path_factory.mktemp("faults"), own_upstream_server.url) as running:
        yield running
        assert UPSTREAM_KEY not in running.output(), "the provider key reached the gateway's log"


@dataclass(frozen=True)
class Told:
    """What the client got: the status, the body, and the cost it was told (0 for an error answer)."""

    status: int
    text: str
    cost: Decimal
    provider: str | None
    error: dict[str, Any] | None  # the error envelope's, or a stream's error chunk's


def ask(gateway: RunningGateway, plaintext: str, path: str, body: dict[str, Any]) -> Told:
    with as_key(gateway, plaintext) as client:
        if body.get("stream"):
            with client.stream("POST", path, json=body) as response:
                response.read()
        else:
            response = client.post(path, json=body)
    text = response.text
    assert response.status_code != 500, text
    if response.status_code != 200:
        envelope = json.loads(text)["error"]
        assert envelope["code"] == response.status_code and envelope["type"], text
        return Told(response.status_code, text, Decimal(0), None, envelope)
    if not body.get("stream"):
        data = exact_json(text)
        return Told(200, text, Decimal(data["usage"]["cost"]), data.get("provider"), None)
    return _told_by_stream(text)


def _told_by_stream(text: str) -> Told:
    """A stream must end with its usage chunk and `[DONE]`; an error chunk comes right before the usage chunk."""
    assert text.endswith("data: [DONE]\n\n"), f"a stream cut without its end: {text[-300:]!r}"
    chunks = [exact_json(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    *content, last = chunks
    assert last.get("usage") and not last["choices"], last
    errors = [c for c in content if c.get("error")]
    assert errors in ([], [content[-1]]), "an error chunk is the last before the usage chunk"
    return Told(200, text, Decimal(last["usage"]["cost"]), last.get("provider"),
                errors[0]["error"] if errors else None)


def reservation(body: dict[str, Any], hosts: list[str]) -> Decimal:
    """What the gateway holds for a chat request: the worst case over the candidate endpoints."""
    request = to_canonical(ChatCompletionRequest.model_validate(body))
    endpoints = [e for e in CATALOG.resolve(body["model"]).model.endpoints if e.host in hosts]
    return quote(request, measure(request), endpoints).amount


def assert_books(gateway: RunningGateway, key_hash: str, told: Told, ceiling: Decimal) -> GenerationRecord:
    """One ledger row at the cost the client was told, within [0, reservation]; no hold left; no key anywhere."""
    [record] = wait_for_records(gateway, key_hash, 1)
    assert wait_for_records(gateway, key_hash, 2, timeout=0) == [record]
    assert Decimal(0) <= record.cost <= ceiling
    assert record.cost == told.cost, (record, told)
    key = key_record(gateway, key_hash)
    assert key.holds == () and key.usage == record.cost and key.remaining == LIMIT - record.cost
    assert UPSTREAM_KEY not in told.text and UPSTREAM_KEY not in encode_generation(record)
    return record


def fallback_reply(streamed: bool) -> Reply:
    if streamed:
        return sse(chunk({"role": "assistant", "content": "backup"}), chunk(finish="stop"),
                   chunk(usage=usage(5, 1)))()
    return Reply.json(completion({"role": "assistant", "content": "backup"}, usage=usage(5, 1)))


@pytest.mark.parametrize("fallback", [False, True], ids=["one-host", "with-fallback"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault(case: Case, fallback: bool, gateway: RunningGateway, own_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=int(LIMIT))
    own_upstream.reply(case.reply(), path=PRIMARY_CHAT)
    if fallback:
        own_upstream.reply(fallback_reply(case.streamed), path=FALLBACK_CHAT)
    hosts = ["openai", "groq"] if fallback else ["openai"]
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": case.streamed,
            "provider": {"order": hosts, "allow_fallbacks": False}, **(case.body or {})}
    told = ask(gateway, plaintext, "/chat/completions", body)
    record = assert_books(gateway, key_hash, told, reservation(body, hosts))
    asked_fallback = bool(list(own_upstream.iter_requests(FALLBACK_CHAT)))
    match case.outcome:
        case "UNREADABLE" if fallback:
            assert (told.status, told.provider, record.status, record.provider) == (200, "Groq", "success", "groq")
            assert [(a[0], a[1]) for a in record.attempts] == [("openai", 502), ("groq", 200)]
            assert record.cost > 0
        case "UNREADABLE":
            assert told.status == 502 and told.error is not None and told.error["type"] == "upstream_error"
            assert told.error["metadata"]["provider_name"] == "openai", told.error
            assert (record.status, record.cost, record.provider) == ("error", Decimal(0), None)
            assert [(a[0], a[1]) for a in record.attempts] == [("openai", 502)]
        case "OVERCLAIM":
            assert (told.status, record.status, record.provider) == (200, "success", "openai") and not asked_fallback
            assert record.cost == reservation(body, ["openai"]) and record.anomaly is not None
        case "MID_STREAM":
            assert told.status == 200 and told.error is not None, told.text
            assert (record.status, record.provider) == ("error", "openai") and not asked_fallback
            assert record.cost > 0 and record.error is not None and UPSTREAM_KEY not in record.error


# -- the other wire formats and operations a hostile upstream reaches -----------------------------------------------

def anthropic_message(usage_fields: dict[str, Any]) -> dict[str, Any]:
    return {"id": "msg_f", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "fine"}], "stop_reason": "end_turn", "usage": usage_fields}


@pytest.mark.parametrize("fallback", [False, True], ids=["one-host", "with-fallback"])
def test_negative_usage_through_anthropics_format(fallback: bool, gateway: RunningGateway,
                                                  own_upstream: FakeUpstream) -> None:
    """Expected: unreadable, as in the OpenAI format (it credited the key $25.00 before): a 502 at $0 on one host,
    the fallback's answer with one."""
    plaintext, key_hash = new_key(gateway, limit=int(LIMIT))
    negative = anthropic_message({"input_tokens": 5, "output_tokens": -1_666_666})
    own_upstream.reply(Reply.json(negative), path="/v1/messages")
    if fallback:
        own_upstream.reply(fallback_reply(False), path=FALLBACK_CHAT)
    hosts = ["anthropic", "groq"] if fallback else ["anthropic"]
    body = {"model": "resilience/anthropic-first", "messages": [{"role": "user", "content": "hi"}],
            "provider": {"order": hosts, "allow_fallbacks": False}}
    told = ask(gateway, plaintext, "/chat/completions", body)
    record = assert_books(gateway, key_hash, told, reservation(body, hosts))
    assert (told.status, record.status) == ((200, "success") if fallback else (502, "error"))


def test_overclaim_on_legacy_completions(gateway: RunningGateway, own_upstream: FakeUpstream) -> None:
    """Expected: 10^15 tokens on /completions ($3.5 billion before) books the reservation: max_tokens 16 of one
    prompt on the native endpoint, told as `usage.cost`; the anomaly on the row."""
    plaintext, key_hash = new_key(gateway, limit=int(LIMIT))
    answer = {"id": "cmpl-f", "object": "text_completion", "created": 1, "model": "base-model-7b",
              "choices": [{"index": 0, "text": " there", "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 10**15}}
    own_upstream.reply(Reply.json(answer), path="/vllm/v1/completions")
    told = ask(gateway, plaintext, "/completions", {"model": "acme/base-model", "prompt": "hi", "max_tokens": 16})
    [endpoint] = CATALOG.resolve("acme/base-model").model.endpoints
    ceiling = (2 + 2) * endpoint.prompt + 16 * endpoint.completion  # 2 bytes and 2 framing tokens; 16 out
    record = assert_books(gateway, key_hash, told, ceiling)
    assert record.cost == ceiling and record.anomaly is not None and record.status == "success"


@pytest.mark.parametrize(("tokens", "status"), [(-5, 502), (10**15, 200), ("5", 502)])
def test_embeddings_usage(tokens: Any, status: int, gateway: RunningGateway, own_upstream: FakeUpstream) -> None:
    """Expected: a negative or textual count is unreadable (502 at $0); 10^15 books the reservation."""
    plaintext, key_hash = new_key(gateway, limit=int(LIMIT))
    own_upstream.reply(Reply.json({"object": "list", "data": [{"index": 0, "embedding": [0.5, 1.0]}],
                                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}), path="/v1/embeddings")
    told = ask(gateway, plaintext, "/embeddings", {"model": "openai/text-embedding-3-small", "input": "hello",
                                                   "encoding_format": "float"})
    [endpoint] = [e for e in CATALOG.resolve("openai/text-embedding-3-small").model.endpoints if e.host == "openai"]
    ceiling = (5 + 2) * endpoint.prompt  # 5 bytes and 2 framing tokens
    record = assert_books(gateway, key_hash, told, ceiling)
    assert told.status == status
    assert (record.anomaly is not None) == (status == 200)
