"""providers/transport/__init__.py against the fake upstream, once per backend (httpx: Lambda; aiohttp: `serve`).

Both must behave the same: timeouts are 408 and connection failures 502 (both retryable, without the
URL), error statuses go to the adapter's mapping with the credential scrubbed, streams yield byte pieces
and close the upstream connection when cut short or cancelled, no redirect is followed, no proxy is read
from the environment, and one client per event loop is reused.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import anyio
import anyio.to_thread
import pytest

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import HostSpec
from lambdarouter.providers import transport
from lambdarouter.providers.base import HttpRequest
from lambdarouter.providers.transport.base import Timeouts
from tests.fakes.upstream import GATE_LIMIT, HEADERS, NEVER, FakeUpstream, Reply
from tests.gateway import free_port

SECRET = "sk-upstream-secret-0123456789"
FAST = Timeouts(connect=10.0, read=30.0)  # bounds only a broken run: the fake answers at once


class Mapper:
    """An adapter's error mapping that keeps what it was given and echoes the body, as providers do."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, Mapping[str, str], bytes]] = []

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        self.seen.append((status, headers, body))
        return GatewayError(502 if status >= 500 else status, f"{provider}: {body.decode()}",
                            metadata={"raw": body.decode()}, retryable=status >= 500)


@pytest.fixture(params=["httpx", "aiohttp"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    transport.use_backend(request.param)
    try:
        yield request.param
    finally:
        transport.use_backend("httpx")


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    """One event loop per call, its upstream client closed at the end (as a server shutting down)."""
    async def wrapped() -> Any:
        try:
            return await main()
        finally:
            await transport.aclose()

    return anyio.run(wrapped)


def request(url: str, path: str = "/v1/chat/completions", body: bytes = b'{"model":"m"}') -> HttpRequest:
    return HttpRequest("POST", url + path, {"content-type": "application/json", "authorization": f"Bearer {SECRET}"},
                       body)


def failure(call: Callable[[], Awaitable[Any]]) -> GatewayError:
    async def main() -> GatewayError:
        with pytest.raises(GatewayError) as caught:
            await call()
        return caught.value

    error: GatewayError = run(main)
    return error


async def read_stream(req: HttpRequest, mapper: Mapper | None = None, timeouts: Timeouts = FAST) -> list[bytes]:
    async with transport.open_stream(req, mapper or Mapper(), "openai", timeouts) as pieces:
        return [piece async for piece in pieces]


def test_a_request_goes_out_as_built_and_its_body_comes_back(backend: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"ok": True}))
    path = "/model/anthropic.claude-3%3A0/converse"  # Bedrock signs the encoded path: sent byte for byte
    body = run(lambda: transport.send(request(fake_upstream.url, path), Mapper(), "openai", FAST))
    assert body == b'{"ok":true}'
    [received] = fake_upstream.requests
    assert (received.method, received.raw_path, received.body) == ("POST", path, b'{"model":"m"}')
    assert received.headers["authorization"] == f"Bearer {SECRET}"
    assert received.headers["content-type"] == "application/json"


def test_error_statuses_go_to_the_adapter_without_the_credential(backend: str, fake_upstream: FakeUpstream) -> None:
    echo = f"Incorrect API key provided: {SECRET}".encode()
    fake_upstream.reply(Reply(status=401, headers={"X-Request-Id": "r1"}, body=echo), times=2)
    mapper = Mapper()
    for call in (lambda: transport.send(request(fake_upstream.url), mapper, "openai", FAST),
                 lambda: read_stream(request(fake_upstream.url), mapper)):
        error = failure(call)
        assert error.status == 401 and SECRET not in error.message and SECRET not in str(error.metadata)
        assert "[redacted]" in error.message
    assert [(status, headers["x-request-id"], body) for status, headers, body in mapper.seen] == [
        (401, "r1", echo), (401, "r1", echo)]


def test_a_silent_upstream_times_out_as_408(backend: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply(gates={HEADERS: NEVER}), times=2)  # answers nothing until the client leaves
    short = Timeouts(connect=2.0, read=0.3)
    for call in (lambda: transport.send(request(fake_upstream.url), Mapper(), "openai", short),
                 lambda: read_stream(request(fake_upstream.url), timeouts=short)):
        error = failure(call)
        assert (error.status, error.retryable) == (408, True)
        assert error.message == "openai: timed out waiting for the provider."


def test_a_stall_between_chunks_times_out_the_stream(backend: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply(chunks=[b"data: 1\n\n", b"data: 2\n\n"], gates={1: NEVER}))
    error = failure(lambda: read_stream(request(fake_upstream.url), timeouts=Timeouts(connect=2.0, read=0.3)))
    assert (error.status, error.retryable) == (408, True)


def test_a_refused_connection_is_502_without_the_url(backend: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for call in (lambda: transport.send(request(url), Mapper(), "openai", FAST),
                 lambda: read_stream(request(url))):
        error = failure(call)
        assert (error.status, error.retryable) == (502, True)
        assert error.message.startswith("openai: could not reach the provider (") and "127.0.0.1" not in error.message


def test_a_reset_before_the_headers_is_502(backend: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply(reset_before_headers=True))
    error = failure(lambda: transport.send(request(fake_upstream.url), Mapper(), "openai", FAST))
    assert (error.status, error.retryable) == (502, True)


def test_streams_yield_the_body_in_pieces(backend: str, fake_upstream: FakeUpstream) -> None:
    chunks = [f"data: {i}\n\n".encode() for i in range(5)]
    fake_upstream.reply(Reply(chunks=chunks, chunk_delay=0.02))
    pieces: list[bytes] = run(lambda: read_stream(request(fake_upstream.url)))
    assert b"".join(pieces) == b"".join(chunks) and len(pieces) > 1


def test_a_stream_cut_midway_raises_from_the_iterator(backend: str, fake_upstream: FakeUpstream) -> None:
    chunks = [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]
    fake_upstream.reply(Reply(chunks=chunks, chunk_delay=0.02, reset_after_chunks=2))
    received: list[bytes] = []

    async def main() -> None:
        async with transport.open_stream(request(fake_upstream.url), Mapper(), "openai", FAST) as pieces:
            async for piece in pieces:
                received.append(piece)

    error = failure(main)
    assert (error.status, error.retryable) == (502, True)
    assert b"".join(received) == b"".join(chunks[:2])


def test_what_arrived_before_a_cut_is_read_even_when_read_late(backend: str, fake_upstream: FakeUpstream) -> None:
    """The pieces, then the error, also when the connection was gone before anyone read them."""
    chunks = [b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"]
    cut = threading.Event()
    fake_upstream.reply(Reply(chunks=chunks, reset_after_chunks=2, sent=cut))
    received: list[bytes] = []

    async def main() -> None:
        async with transport.open_stream(request(fake_upstream.url), Mapper(), "openai", FAST) as pieces:
            assert await anyio.to_thread.run_sync(cut.wait, GATE_LIMIT)  # the two chunks and the close are out
            async for piece in pieces:
                received.append(piece)

    error = failure(main)
    assert (error.status, error.retryable) == (502, True)
    assert b"".join(received) == b"".join(chunks[:2])


def held(sent: threading.Event) -> Reply:
    """One piece, then the rest held until the client leaves (or the test's limit): the stream never ends
    by itself, so only the transport closing the connection ends it."""
    return Reply(chunks=[f"data: {i}\n\n".encode() for i in range(50)], gates={1: NEVER}, sent=sent)


def wait_for_disconnect(upstream: FakeUpstream, before: int, sent: threading.Event) -> None:
    assert sent.wait(GATE_LIMIT / 2)  # the hold ended: the connection was closed
    assert upstream.disconnects > before


def test_leaving_a_stream_early_closes_the_upstream_connection(backend: str, fake_upstream: FakeUpstream) -> None:
    before, sent = fake_upstream.disconnects, threading.Event()
    fake_upstream.reply(held(sent))

    async def main() -> None:
        async with transport.open_stream(request(fake_upstream.url), Mapper(), "openai", FAST) as pieces:
            async for _ in pieces:
                break

    run(main)
    wait_for_disconnect(fake_upstream, before, sent)


def test_cancelling_a_stream_closes_the_upstream_connection(backend: str, fake_upstream: FakeUpstream) -> None:
    """A client gone: the relay's task is cancelled while it waits for the next piece."""
    before, sent = fake_upstream.disconnects, threading.Event()
    fake_upstream.reply(held(sent))

    async def read_until_cancelled(first_piece: anyio.Event) -> None:
        async with transport.open_stream(request(fake_upstream.url), Mapper(), "openai", FAST) as pieces:
            async for _ in pieces:
                first_piece.set()  # and on to wait for a next piece that is held back

    async def main() -> None:
        first_piece = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(read_until_cancelled, first_piece)
            await first_piece.wait()
            group.cancel_scope.cancel()

    run(main)
    wait_for_disconnect(fake_upstream, before, sent)


def test_redirects_are_not_followed(backend: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply(status=307, headers={"location": f"{fake_upstream.url}/elsewhere"}))
    assert run(lambda: transport.send(request(fake_upstream.url), Mapper(), "openai", FAST)) == b""
    assert [r.path for r in fake_upstream.requests] == ["/v1/chat/completions"]


def test_proxies_in_the_environment_are_ignored(backend: str, fake_upstream: FakeUpstream,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport.use_backend(backend)  # a fresh client, made with the variables set
    fake_upstream.reply(Reply.json({"ok": 1}))
    assert run(lambda: transport.send(request(fake_upstream.url), Mapper(), "openai", FAST)) == b'{"ok":1}'


def test_one_connection_is_reused_within_a_loop(backend: str, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({}), times=3)

    async def main() -> None:
        for _ in range(3):
            await transport.send(request(fake_upstream.url), Mapper(), "openai", FAST)

    run(main)
    ports = [r.client_port for r in fake_upstream.requests]
    assert len(ports) == 3 and len(set(ports)) == 1


def test_host_timeouts_fill_in_the_defaults(backend: str) -> None:
    spec = HostSpec("local", "Local", "openai", "http://127.0.0.1", None, read_timeout=600.0)
    transport.configure_timeouts(connect=3.0, read=30.0)
    try:
        assert transport.timeout_for(spec) == Timeouts(connect=3.0, read=600.0)
        assert transport.timeout_for(HostSpec("h", "H", "openai", None, None)) is None
    finally:
        transport.configure_timeouts(connect=10.0, read=300.0)

