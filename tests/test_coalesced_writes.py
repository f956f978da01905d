"""`lambdarouter serve` writes an answer's head and body in one system call (http/coalesced_writes.py): nothing is
reordered, lost or held past the loop iteration, a stream's chunks go at once, and uvicorn's flow control still sees
what is waiting. Counted on a transport that records its writes, and on a served gateway's socket; no clock."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from lambdarouter.http.coalesced_writes import FLUSH_BYTES, CoalescedWrites
from tests.gateway import RunningGateway


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
        coalesced.hold_next()  # a request's head was read: its answer is next
        coalesced.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        coalesced.write(b"")  # nothing to write is no write
        head_alone = list(transport.writes)
        coalesced.write(bytearray(b"ok"))  # the body: both go now, not at the end of the step
        with_body = list(transport.writes)
        coalesced.write(b"chunk")  # anything else goes at once
        return head_alone, with_body

    transport, (head_alone, with_body) = run(steps)
    assert head_alone == []
    assert with_body == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    assert transport.writes == [*with_body, b"chunk"]


def test_a_head_alone_leaves_at_the_end_of_the_iteration() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> tuple[list[bytes], int]:
        coalesced.hold_next()
        coalesced.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")  # a stream's head
        transport.buffered = 10
        waiting = coalesced.get_write_buffer_size()  # flow control sees the held head
        during = list(transport.writes)
        await asyncio.sleep(0)
        return during, waiting

    transport, (during, waiting) = run(steps)
    assert during == [] and waiting == 10 + len(transport.writes[0])
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]


def test_close_writes_what_is_held_first_and_nothing_follows_it() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> None:
        coalesced.hold_next()
        coalesced.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
        coalesced.close()
        await asyncio.sleep(0)  # the flush the held head scheduled finds nothing held and a closed transport

    transport, _ = run(steps)
    assert transport.writes == [b"HTTP/1.1 408 Request Timeout\r\n\r\n"] and transport.closed


def test_a_large_first_write_is_not_held_and_the_next_one_is_not_either() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> int:
        coalesced.hold_next()
        coalesced.write(b"x" * FLUSH_BYTES)
        coalesced.write(b"y")
        return len(transport.writes)

    transport, written_at_once = run(steps)
    assert written_at_once == 2 and transport.writes == [b"x" * FLUSH_BYTES, b"y"]


def test_everything_else_is_the_real_transports() -> None:
    async def steps(transport: Recorded, coalesced: CoalescedWrites) -> Any:
        return coalesced.get_extra_info("peername"), coalesced.is_closing()

    _, result = run(steps)
    assert result == (("127.0.0.1", 1), False)


def test_a_served_answer_arrives_whole_in_one_read(gateway: RunningGateway) -> None:
    """The served app's protocol class: a health check's head and body leave together, so the first read of
    the socket (waiting as long as it takes) has the whole answer. Before, the head came alone when the
    server's two writes reached the socket apart."""
    url = httpx.URL(gateway.url)
    assert url.host and url.port
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        for _ in range(20):  # every answer on a kept-alive connection, not only the first
            sock.sendall(f"GET {url.path}/health HTTP/1.1\r\nHost: {url.host}\r\n\r\n".encode())
            first = sock.recv(65536)
            head, _, body = first.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            assert len(body) == length, first
