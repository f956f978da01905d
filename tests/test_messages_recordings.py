"""Every recorded Anthropic exchange (tests/recordings/anthropic/) replayed through /messages: the recorded
request reaches the fake Anthropic byte for byte, and the recorded answer reaches the client as Anthropic sent
it (the stream event for event), with only the booked usage and cost added."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from tests.fakes.recordings import Recording, all_recordings, load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.messages_cases import MESSAGES_PATH, anthropic_base, sse_events

ANSWERED = [rec for rec in map(load_recording, all_recordings("anthropic")) if rec.status == 200]
STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def _send(gateway: RunningGateway, rec: Recording) -> tuple[bytes, httpx.Response]:
    sent = json.dumps(rec.request, ensure_ascii=False).encode()
    headers = {"x-api-key": gateway.key, **{k: v for k, v in rec.request_headers.items()
                                            if k in ("anthropic-version", "anthropic-beta", "content-type")}}
    query = f"?{rec.query}" if rec.query else ""
    return sent, httpx.post(f"{anthropic_base(gateway)}/v1/messages{query}", content=sent, headers=headers, timeout=20)


@pytest.mark.parametrize("rec", ANSWERED, ids=lambda r: r.name)
def test_recorded_exchange_passes_through(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                          rec: Recording) -> None:
    fake_upstream.reply(Reply.from_recording(rec), path=MESSAGES_PATH)
    sent, answer = _send(gateway, rec)
    assert answer.status_code == 200, answer.text
    [received] = fake_upstream.requests
    assert received.body == sent  # the recordings' models are their endpoints' upstream ids
    if not rec.is_sse:
        recorded, message = rec.json_body(), answer.json()
        Message.model_validate(message)
        assert {k: v for k, v in message.items() if k != "usage"} == {k: v for k, v in recorded.items() if k != "usage"}
        assert {k: message["usage"][k] for k in recorded["usage"] if k in ("input_tokens", "output_tokens")} == {
            k: recorded["usage"][k] for k in ("input_tokens", "output_tokens")}
        assert Decimal(str(message["usage"]["cost"])) > 0
        return
    # Pings are relayed too, with the next event that counts (they are no part of RawMessageStreamEvent).
    upstream = [(n, p) for n, p in sse_events(rec.body_bytes().decode()) if n != "ping"]
    relayed = [(n, p) for n, p in sse_events(answer.text) if n != "ping"]
    for _, payload in relayed:
        STREAM_EVENT.validate_python(payload)
    assert [n for n, _ in relayed] == [n for n, _ in upstream]
    assert relayed[:-2] == upstream[:-2]  # everything before message_delta exactly as Anthropic sent it
    (_, recorded_delta), (_, delta) = upstream[-2], relayed[-2]
    assert delta["delta"] == recorded_delta["delta"]
    assert delta["usage"]["output_tokens"] == recorded_delta["usage"]["output_tokens"]
    assert Decimal(str(delta["usage"]["cost"])) > 0


def test_the_recorded_malformed_request_is_refused_as_anthropic_refused_it(gateway: RunningGateway,
                                                                          fake_upstream: FakeUpstream) -> None:
    """The recorded 400 was Anthropic's answer to a message that is not an object: the gateway gives the same
    error type before any upstream call."""
    rec = load_recording("anthropic/error-400-invalid-request")
    _, answer = _send(gateway, rec)
    recorded = rec.json_body()["error"]
    assert answer.status_code == rec.status == 400 and answer.json()["error"]["type"] == recorded["type"]
    assert answer.json()["error"]["message"].startswith("messages.0: ")
    assert recorded["message"].startswith("messages.0: ")
    assert fake_upstream.requests == []
