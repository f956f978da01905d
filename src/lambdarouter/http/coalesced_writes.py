"""An answer's head and body in one socket write for `lambdarouter serve`, instead of one write per ASGI message.

uvicorn writes each ASGI message as it comes: a non-streamed answer is two `send` system calls, the status line
and headers (`http.response.start`), then the body. Both arrive in the same step of the route's task, so holding
the first until the second comes (or the loop iteration ends) and writing both at once costs no latency and saves
a system call per answer: of the request path's three socket writes (the upstream request, the answer's head, its
body), one (strace: 3.0 -> 2.0 `write` calls per request). Measured on `lambdarouter serve` under load (py-spy,
docs/performance.md "The request path"), the socket writes were 14 % of the event loop's busy time. Only an
answer's head is held (a stream's leaves with its first chunk): every other write goes at once, so a stream's
chunks cost nothing more than before.

Back-pressure is kept: a held head counts in `get_write_buffer_size`, and one of `FLUSH_BYTES` or more is not held.
"""

from __future__ import annotations

import asyncio
from typing import Any

FLUSH_BYTES = 64 * 1024


class CoalescedWrites:
    """The transport uvicorn's protocol and request cycles write through; everything but writing and closing is
    the real transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: bytes | None = None
        self._hold_next = False

    def hold_next(self) -> None:
        """The next write starts an answer (its head): hold it for the write that follows."""
        self._hold_next = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """An answer's head is held until the next write or the end of this loop iteration, whichever comes
        first, so that nothing waits on the rest of the step; every other write goes at once (with the head)."""
        if not data:
            return
        hold, self._hold_next = self._hold_next, False
        if hold and len(data) < FLUSH_BYTES:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()  # what was written before the close still goes out first, as with the real transport
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + (len(self._held) if self._held is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingProtocol(asyncio.Protocol):
    """Mixed in before uvicorn's HTTP protocol class (http/header_timeout.py `header_timeout_protocol`): its
    transport, once uvicorn has it, is wrapped in `CoalescedWrites`, told when a request's answer is next (both of
    uvicorn's parsers, httptools and h11, make a new `cycle` for each request while they read its head)."""

    loop: asyncio.AbstractEventLoop  # set by uvicorn's protocol class
    transport: Any
    cycle: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescedWrites(self.transport, self.loop)

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before and isinstance(self.transport, CoalescedWrites):
            self.transport.hold_next()
