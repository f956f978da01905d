"""The SSE writer: every chunk and the end marker reach a slow reader; keep-alives fill silences."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from lambdarouter.gateway.relay import Relay
from lambdarouter.http.chat import KEEPALIVE, sse


class Chunk:
    def __init__(self, n: int) -> None:
        self.n = n

    def model_dump_json(self, **_: Any) -> str:
        return f'{{"n": {self.n}}}'


class FakeRelay:
    def __init__(self, count: int, delay: float = 0.0) -> None:
        self.count, self.delay = count, delay

    async def chunks(self) -> AsyncIterator[Chunk]:
        for n in range(self.count):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield Chunk(n)


async def read_all(relay: FakeRelay, keepalive: float, reader_pause: float) -> list[bytes]:
    out: list[bytes] = []
    async with asyncio.timeout(10):  # a lost end marker would hang here
        async for piece in sse(cast("Relay[Any, Any]", relay), keepalive):
            out.append(piece)
            if len(out) == 1:
                await asyncio.sleep(reader_pause)  # the producer fills the queue and finishes meanwhile
    return out


def test_a_fast_producer_and_a_slow_reader_lose_nothing() -> None:
    pieces = asyncio.run(read_all(FakeRelay(40), keepalive=5, reader_pause=0.2))
    assert pieces[-1] == b"data: [DONE]\n\n"
    assert [p for p in pieces if p.startswith(b"data: {")] == [f'data: {{"n": {n}}}\n\n'.encode() for n in range(40)]


def test_keep_alive_while_the_relay_is_silent() -> None:
    pieces = asyncio.run(read_all(FakeRelay(2, delay=0.35), keepalive=0.1, reader_pause=0))
    assert KEEPALIVE in pieces
    assert pieces[-1] == b"data: [DONE]\n\n"
