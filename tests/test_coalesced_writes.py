"""`lambdarouter serve` writes what one loop iteration produced for a connection in one system call
(http/coalesced_writes.py): a non-streamed answer's head and body leave together, nothing is reordered or lost, and
uvicorn's flow control still sees what is waiting. Counted on a transport that records its writes; no clock."""

from __future__ import annotations

import asyncio
from typing import Any

from lambdarouter.http.coalesced_writes import FLUSH_BYTES, CoalescedWrites


class Recorded(asyncio.Transport):
    """A transport that keeps what it was asked to write, one entry per write (one system call each)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.buffered = 0

    def write(self, data: Any) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def run(steps: Any) -> Any:
    async def main() -> Any:
        transport = Recorded()
        coalesced = CoalescedWrites(transport, asyncio.get_running_loop())
        result = await steps(transport, coalesced)
        return transport, result

    return asyncio.run(main())


def test_a_head_waits_for_its_body_and_both_leave_in_one_write() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> tuple[list[bytes], list[bytes]]:
        coalesced.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        coalesced.write(b"")  # nothing to write is no write
        head_alone = list(transport.writes)
        coalesced.write(bytearray(b"ok"))  # the second write of the step: both go now, not at the step's end
        with_body = list(transport.writes)
        coalesced.write(b"next")  # alone: at the end of this iteration
        await asyncio.sleep(0)
        return head_alone, with_body

    transport, (head_alone, with_body) = run(steps)
    assert head_alone == []
    assert with_body == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    assert transport.writes == [*with_body, b"next"]


def test_close_writes_what_is_held_first_and_nothing_follows_it() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> None:
        coalesced.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
        coalesced.close()
        await asyncio.sleep(0)  # the flush scheduled by the write finds nothing held and a closed transport
        coalesced.write(b"late")
        await asyncio.sleep(0)

    transport, _ = run(steps)
    assert transport.writes == [b"HTTP/1.1 408 Request Timeout\r\n\r\n"] and transport.closed


def test_flow_control_sees_what_is_held_and_a_large_write_is_not_held() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> tuple[int, int, int]:
        transport.buffered = 10
        coalesced.write(b"abc")
        waiting = coalesced.get_write_buffer_size()
        await asyncio.sleep(0)
        coalesced.write(b"x" * FLUSH_BYTES)  # alone, but too much to hold
        written_at_once = len(transport.writes)
        return waiting, written_at_once, coalesced.get_write_buffer_size()

    transport, (waiting, written_at_once, after) = run(steps)
    assert (waiting, written_at_once, after) == (13, 2, 10)
    assert transport.writes == [b"abc", b"x" * FLUSH_BYTES]


def test_everything_else_is_the_real_transports() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> Any:
        return coalesced.get_extra_info("peername"), coalesced.is_closing()

    _, result = run(steps)
    assert result == (("127.0.0.1", 1), False)
