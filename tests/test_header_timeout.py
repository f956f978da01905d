"""`lambdarouter serve` closes connections that do not deliver a request's headers in time (issue 15: 200
half-sent request headers held 200 connections open indefinitely).

A gateway of its own with a 1 s header timeout. Nothing here measures time: each socket waits (up to a bound far
above the timeout) for the server to answer and close, so a server that never closes fails the test."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lambdarouter.admin import cli
from tests.fakes.upstream import FakeUpstream
from tests.gateway import ADMIN_KEY, RunningGateway, running_gateway

HALF_SENT = 200
PARTIAL_REQUEST = b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl"
WAIT_FOR_CLOSE = 60.0  # seconds: only a server that never closes the connection reaches it


@pytest.fixture(scope="module")
def impatient(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    RunningGateway
]:
    with running_gateway(tmp_path_factory.mktemp("impatient"), fake_upstream_server.url,
                         {"LAMBDAROUTER_HEADER_TIMEOUT": "1"}) as running:
        yield running


def _address(gateway: RunningGateway) -> tuple[str, int]:
    url = httpx.URL(gateway.url)
    assert url.host and url.port
    return url.host, url.port


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(WAIT_FOR_CLOSE)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _answer_408(received: bytes) -> None:
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), received
    assert json.loads(body)["error"]["code"] == 408


def test_half_sent_headers_are_answered_408_and_closed(impatient: RunningGateway) -> None:
    sockets = [socket.create_connection(_address(impatient), timeout=WAIT_FOR_CLOSE) for _ in range(HALF_SENT)]
    try:
        for sock in sockets:
            sock.sendall(PARTIAL_REQUEST)
        for sock in sockets:
            _answer_408(_until_closed(sock))
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(f"{impatient.url}/health", timeout=10).status_code == 200


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(impatient: RunningGateway) -> None:
    with socket.create_connection(_address(impatient), timeout=WAIT_FOR_CLOSE) as sock:
        assert _until_closed(sock) == b""


def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(impatient: RunningGateway) -> None:
    host, port = _address(impatient)
    with socket.create_connection((host, port), timeout=WAIT_FOR_CLOSE) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 12")  # the next request, never finished
        _answer_408(_until_closed(sock))


def test_a_body_may_come_after_the_deadline(impatient: RunningGateway) -> None:
    """The deadline is for headers: once they are in, the route reads the body under its own limits. Socket B's
    408 shows that the deadline of socket A, connected before it, has passed too; then A sends its body."""
    body = json.dumps({"name": "late-body"}).encode()
    with socket.create_connection(_address(impatient), timeout=WAIT_FOR_CLOSE) as a:
        a.sendall(b"POST /api/v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % (ADMIN_KEY.encode(), len(body)))
        with socket.create_connection(_address(impatient), timeout=WAIT_FOR_CLOSE) as b:
            b.sendall(PARTIAL_REQUEST)
            _answer_408(_until_closed(b))
        a.sendall(body)
        answer = _until_closed(a)
    assert answer.startswith(b"HTTP/1.1 201 "), answer


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon", "86400"])
def test_the_timeout_must_be_a_sensible_number_of_seconds(value: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.parser().parse_args(["serve", "--header-timeout", value])
    assert exited.value.code == 2
    assert "header-timeout" in capsys.readouterr().err
