"""The SSE writer (http/sse.py): every chunk, the closing chunks and the end marker reach a slow reader; keep-alives
fill an upstream's silence; a client that leaves cancels the relay, whose books still close, and the body ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, MutableMapping
from typing import Any, cast

from lambdarouter.gateway.relay import Relay
from lambdarouter.http.sse import DONE, KEEPALIVE, EventStream

Message = MutableMapping[str, Any]


class FakeRelay:
    """`count` chunks; with `hold`, it waits for that event before each chunk after the first."""

    def __init__(self, count: int, hold: asyncio.Event | None = None) -> None:
        self.count, self.hold = count, hold
        self.closed_books: str | None = None
        self.background_ran = False

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        status = "aborted"
        try:
            for n in range(self.count):
                if n and self.hold is not None:
                    await self.hold.wait()
                yield f"data: {n}\n\n".encode()
            status = "success"
        finally:
            self.closed_books = status

    def ending(self) -> list[bytes]:
        return [b"data: usage\n\n"]

    async def close(self) -> None:
        self.background_ran = True


class Client:
    """The ASGI side of one response: what was sent; `slow` makes every write wait a turn of the loop."""

    def __init__(self, slow: bool = False, leave_after: int | None = None) -> None:
        self.sent: list[Message] = []
        self.slow = slow
        self.leave_after = leave_after  # body writes after which the client disconnects
        self.left = asyncio.Event()
        self.keepalive_seen = asyncio.Event()

    async def receive(self) -> Message:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.slow:
            await asyncio.sleep(0)
        self.sent.append(message)
        if message.get("body") == KEEPALIVE:
            self.keepalive_seen.set()
        if self.leave_after is not None and len(self.body_writes()) >= self.leave_after:
            self.left.set()

    def body_writes(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


async def respond(relay: FakeRelay, client: Client, keepalive: float = 60.0) -> None:
    async def background() -> None:
        await relay.close()

    response = EventStream(cast("Relay[Any, Any]", relay), keepalive=keepalive, background=cast(Any, background))
    async with asyncio.timeout(10):  # a lost end or a hung relay fails here, never hangs the suite
        await response({"type": "http"}, client.receive, client.send)


def test_every_chunk_then_the_closing_chunks_and_the_marker_in_the_last_write() -> None:
    relay, client = FakeRelay(40), Client(slow=True)
    asyncio.run(respond(relay, client))
    assert client.sent[0]["type"] == "http.response.start"
    writes = client.body_writes()
    assert writes[:-1] == [f"data: {n}\n\n".encode() for n in range(40)]
    assert writes[-1] == b"data: usage\n\n" + DONE and client.sent[-1]["more_body"] is False
    assert relay.closed_books == "success" and relay.background_ran


def test_keep_alive_while_the_relay_is_silent() -> None:
    async def scenario() -> tuple[FakeRelay, Client]:
        client = Client()
        relay = FakeRelay(3, hold=client.keepalive_seen)  # the next chunk comes only after a keep-alive went out
        await respond(relay, client, keepalive=0.01)
        return relay, client

    relay, client = asyncio.run(scenario())
    writes = client.body_writes()
    assert writes[0] == b"data: 0\n\n" and KEEPALIVE in writes[1:-2]
    assert [w for w in writes if w != KEEPALIVE][1:] == [b"data: 1\n\n", b"data: 2\n\n", b"data: usage\n\n" + DONE]
    assert relay.closed_books == "success"


def test_a_client_that_leaves_cancels_the_relay_and_the_books_still_close() -> None:
    async def scenario() -> tuple[FakeRelay, Client]:
        client = Client(leave_after=1)
        relay = FakeRelay(3, hold=asyncio.Event())  # never set: the upstream goes silent after the first chunk
        await respond(relay, client)
        return relay, client

    relay, client = asyncio.run(scenario())
    assert client.body_writes() == [b"data: 0\n\n", b""] and client.sent[-1]["more_body"] is False
    assert relay.closed_books == "aborted" and relay.background_ran
