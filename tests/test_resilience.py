"""Routing and resilience under injected faults: the request still succeeds when a provider fails.

Every fault below has a written expected outcome (which endpoint served, what the client received, what was
recorded), checked against a gateway with retries on, a 3 s read timeout and 0.2 s keep-alives. Each
`resilience/<format>-first` model (tests/data/extra-models.toml) puts a host of that wire format first and
an OpenAI-compatible host (groq) behind it.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.accounting import as_key, new_key, wait_for_records, wait_until
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import GATE_LIMIT, HEADERS, NEVER, FakeUpstream, Reply
from tests.gateway import RunningGateway, running_gateway
from tests.openai_chunks import slow_stream

FORMATS = {  # wire format → (host, path the fake serves it on, a recorded stream of that format)
    "openai": ("openai", "/v1/chat/completions", "openai/text-stream"),
    "anthropic": ("anthropic", "/v1/messages", "anthropic/text-stream"),
    "gemini": ("google-ai-studio", "^/v1beta/models/", "gemini/text-stream"),
    "bedrock": ("amazon-bedrock", "^/model/", "bedrock/text-stream"),
}
BACKUP_PATH = "/groq/v1/chat/completions"
HELLO = [{"role": "user", "content": "hi"}]
READ_TIMEOUT = 3.0  # a silent upstream waits this long; room for a keep-alive round trip on a busy machine
DEADLINE = 8.0


@pytest.fixture(scope="module")
def gateway(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    env = {"LAMBDAROUTER_RETRY_ROUNDS": "3", "LAMBDAROUTER_READ_TIMEOUT": str(READ_TIMEOUT),
           "LAMBDAROUTER_REQUEST_DEADLINE": str(DEADLINE), "LAMBDAROUTER_KEEPALIVE_SECONDS": "0.2"}
    with running_gateway(tmp_path_factory.mktemp("resilient"), fake_upstream_server.url, env) as running:
        yield running


@pytest.fixture
def key(gateway: RunningGateway, fake_upstream: FakeUpstream) -> tuple[str, str]:
    return new_key(gateway)


def error_body(fmt: str, status: int) -> Reply:
    """A documented error of each wire format for an HTTP status."""
    if fmt == "bedrock":
        kind = {429: "ThrottlingException", 503: "ServiceUnavailableException"}.get(status, "InternalServerException")
        return Reply.json({"message": "boom"}, status=status, headers={"x-amzn-errortype": f"{kind}:http://x/"})
    if fmt == "gemini":
        rpc = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(status, "INTERNAL")
        return Reply.json({"error": {"code": status, "message": "boom", "status": rpc}}, status=status)
    if fmt == "anthropic":
        kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        return Reply.json({"type": "error", "error": {"type": kind, "message": "boom"}}, status=status)
    return Reply.json({"error": {"message": "boom", "type": "server_error"}}, status=status)


@dataclass(frozen=True)
class Fault:
    name: str
    recorded_status: int  # what the failed attempt is recorded with in provider_responses

    def reply(self, fmt: str) -> Reply:
        json_200 = {"content-type": "application/json"}
        match self.name:
            case "500" | "502" | "503":
                return error_body(fmt, int(self.name))
            case "429-retry-after":
                reply = error_body(fmt, 429)
                return Reply(status=429, headers={**reply.headers, "retry-after": "1"}, body=reply.body)
            case "reset-before-headers":
                return Reply(reset_before_headers=True)
            case "stall-past-read-timeout":  # holds until the gateway's read timeout closes the connection
                return Reply(status=200, headers=json_200, body=b"{}", gates={HEADERS: NEVER})
            case "malformed-json":
                return Reply(status=200, headers=json_200, body=b'{"choices": [')
            case _:  # empty 200
                return Reply(status=200, headers=json_200, body=b"")


FAULTS = [Fault("500", 502), Fault("502", 502), Fault("503", 502), Fault("429-retry-after", 429),
          Fault("reset-before-headers", 502), Fault("stall-past-read-timeout", 408), Fault("malformed-json", 502),
          Fault("empty-200", 502)]


def backup_reply() -> Reply:
    return Reply.from_recording(load_recording("openai/text-basic"))


def generation(gateway: RunningGateway, plaintext: str, generation_id: str) -> dict[str, Any]:
    with as_key(gateway, plaintext) as client:
        response = client.get("/generation", params={"id": generation_id})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_before_the_first_byte_fails_over(fmt: str, fault: Fault, gateway: RunningGateway,
                                                fake_upstream: FakeUpstream, key: tuple[str, str]) -> None:
    """Expected: the backup host serves, the client gets 200 from it, and both attempts are recorded."""
    host, path, _ = FORMATS[fmt]
    fake_upstream.reply(fault.reply(fmt), path=path)
    fake_upstream.reply(backup_reply(), path=BACKUP_PATH)
    with as_key(gateway, key[0]) as client:
        response = client.post("/chat/completions", json={
            "model": f"resilience/{fmt}-first", "messages": HELLO, "provider": {"order": [host, "groq"]}})
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "Groq"
    assert response.json()["choices"][0]["message"]["content"]
    record = generation(gateway, key[0], response.json()["id"])
    assert [(r["provider"], r["status"]) for r in record["provider_responses"]] == [
        (host, fault.recorded_status), ("groq", 200)]
    assert record["provider_name"] == "groq"
    assert record["total_cost"] == pytest.approx(response.json()["usage"]["cost"])


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_failure_after_the_first_byte_ends_the_stream_with_an_error(
        fmt: str, gateway: RunningGateway, fake_upstream: FakeUpstream, key: tuple[str, str]) -> None:
    """Expected: no failover after the first byte; the SDK raises on the error chunk; recorded as an error.

    The body is cut after the piece that holds its first event (Bedrock's first frame, messageStart, holds none:
    a cut there is before the first byte, and fails over)."""
    host, path, recording = FORMATS[fmt]
    reply = Reply.from_recording(load_recording(recording))
    first_event_piece = 2 if fmt == "bedrock" else 1
    fake_upstream.reply(Reply(status=200, headers=reply.headers, chunks=reply.chunks,
                              reset_after_chunks=first_event_piece), path=path)
    client = openai.OpenAI(base_url=gateway.url, api_key=key[0], max_retries=0, timeout=15)
    stream = client.chat.completions.create(model=f"resilience/{fmt}-first", messages=HELLO,  # type: ignore[arg-type]
                                            stream=True, extra_body={"provider": {"order": [host]}})
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    [record] = wait_for_records(gateway, key[1], 1)
    assert record.status == "error"
    assert record.provider == host
    assert [a[0] for a in record.attempts] == [host]  # the backup was never asked
    assert not [r for r in fake_upstream.requests if r.path == BACKUP_PATH]


def test_one_provider_down_200_of_200_succeed(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                               key: tuple[str, str]) -> None:
    """Default routing: after the first failure the failing host goes last, so it is rarely asked again."""
    fake_upstream.reply(error_body("openai", 500), path="/v1/chat/completions", times=200)
    fake_upstream.reply(backup_reply(), path=BACKUP_PATH, times=200)
    with as_key(gateway, key[0]) as client:
        statuses = [client.post("/chat/completions", json={"model": "resilience/openai-first", "messages": HELLO})
                    .status_code for _ in range(200)]
    assert statuses == [200] * 200
    failed_attempts = len([r for r in fake_upstream.requests if r.path == "/v1/chat/completions"])
    assert failed_attempts <= 5  # once it failed, health puts it last (earlier tests may already have)


def test_every_provider_failing_returns_the_last_error_before_the_deadline(
        gateway: RunningGateway, fake_upstream: FakeUpstream, key: tuple[str, str]) -> None:
    fake_upstream.reply(error_body("anthropic", 529), path="/v1/messages", times=3)
    fake_upstream.reply(Reply.json({"error": {"message": "backup down too"}}, status=503), path=BACKUP_PATH, times=3)
    with as_key(gateway, key[0]) as client:
        response = client.post("/chat/completions", json={
            "model": "resilience/anthropic-first", "messages": HELLO, "provider": {"order": ["anthropic", "groq"]}})
    assert response.status_code == 502  # the last error itself, not the deadline's 408
    error = response.json()["error"]
    assert error["metadata"]["provider_name"] == "groq"  # the last upstream error, mapped
    assert "backup down too" in error["message"]
    # Three rounds (first try, two retries with backoff), both hosts each time.
    assert len(fake_upstream.requests) == 6


def test_retry_honours_retry_after_on_the_only_endpoint(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                        key: tuple[str, str]) -> None:
    fake_upstream.reply(Reply.json({"error": {"message": "slow down"}}, status=429, headers={"retry-after": "1"}),
                        path="/v1/chat/completions")
    fake_upstream.reply(backup_reply(), path="/v1/chat/completions")
    started = time.monotonic()
    with as_key(gateway, key[0]) as client:
        response = client.post("/chat/completions", json={
            "model": "openai/gpt-4o", "messages": HELLO, "provider": {"only": ["openai"]}})
    assert response.status_code == 200
    assert time.monotonic() - started >= 1.0  # not sooner than the provider asked
    record = generation(gateway, key[0], response.json()["id"])
    assert [(r["provider"], r["status"]) for r in record["provider_responses"]] == [("openai", 429), ("openai", 200)]


def test_a_long_retry_after_is_returned_not_waited(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                   key: tuple[str, str]) -> None:
    fake_upstream.reply(Reply.json({"error": {"message": "quota"}}, status=429, headers={"retry-after": "60"}),
                        path="/v1/chat/completions")
    with as_key(gateway, key[0]) as client:
        response = client.post("/chat/completions", json={
            "model": "openai/gpt-4o", "messages": HELLO, "provider": {"only": ["openai"]}})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert len(fake_upstream.requests) == 1


def test_keep_alive_comments_while_the_upstream_is_silent(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                          key: tuple[str, str]) -> None:
    """The upstream sends its second word only once the client has seen a keep-alive after the first. (Before the
    first event nothing is sent at all: the response starts with it, so that a failure can still fail over.)"""
    second_word = threading.Event()
    reply = dataclasses.replace(slow_stream(2, delay=0), gates={1: second_word})
    fake_upstream.reply(reply, path="/v1/chat/completions")
    lines: list[str] = []
    with as_key(gateway, key[0]) as client, client.stream("POST", "/chat/completions", json={
            "model": "openai/gpt-4o", "messages": HELLO, "stream": True, "provider": {"only": ["openai"]}}) as resp:
        for line in filter(None, resp.iter_lines()):
            lines.append(line)
            if line == ": keep-alive" and any('"w0 "' in seen for seen in lines):
                second_word.set()
    first, second = (next(i for i, line in enumerate(lines) if f'"w{n} "' in line) for n in (0, 1))
    assert ": keep-alive" in lines[first:second]
    assert lines[-1] == "data: [DONE]"


def test_client_disconnect_cancels_the_upstream_request(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                        key: tuple[str, str]) -> None:
    before = fake_upstream.disconnects
    sent = threading.Event()
    # Three words, then the upstream holds the rest until its client (the gateway) leaves.
    reply = dataclasses.replace(slow_stream(30, delay=0), gates={3: NEVER}, sent=sent)
    fake_upstream.reply(reply, path="/v1/chat/completions")
    with as_key(gateway, key[0]) as client, client.stream("POST", "/chat/completions", json={
            "model": "openai/gpt-4o", "messages": HELLO, "stream": True, "provider": {"only": ["openai"]}}) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: ") and '"w2 "' in line:
                break  # the client goes away after three words
    assert sent.wait(GATE_LIMIT / 2)  # the hold ended because the gateway closed its upstream connection
    assert fake_upstream.disconnects > before
    [record] = wait_for_records(gateway, key[1], 1)
    assert record.status == "aborted"
    assert 3 <= record.completion_tokens < 30


def test_client_leaving_a_non_streamed_request_cancels_the_upstream_request(
        gateway: RunningGateway, fake_upstream: FakeUpstream, key: tuple[str, str]) -> None:
    """The upstream holds its answer until its client (the gateway) leaves; the gateway's client leaves once the
    upstream has the request: the disconnect watcher (http/body.py, started once the work has run a while)
    cancels the call, and the generation is booked `aborted`."""
    before, sent = fake_upstream.disconnects, threading.Event()
    fake_upstream.reply(dataclasses.replace(Reply.from_recording(load_recording("openai/text-basic")),
                                            gates={HEADERS: NEVER}, sent=sent), path="/v1/chat/completions")
    body = json.dumps({"model": "openai/gpt-4o", "messages": HELLO, "provider": {"only": ["openai"]}}).encode()
    host, port = gateway.url.removeprefix("http://").split("/", 1)[0].split(":")
    with socket.create_connection((host, int(port)), timeout=GATE_LIMIT) as client:
        client.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
                       b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s" % (key[0].encode(), len(body), body))
        assert wait_until(lambda: fake_upstream.pending() == 0)  # the upstream has the request
    assert sent.wait(GATE_LIMIT / 2)  # the hold ended because the gateway closed its upstream connection
    assert fake_upstream.disconnects > before
    [record] = wait_for_records(gateway, key[1], 1)
    assert record.status == "aborted"
