"""One socket write per loop iteration and connection for `lambdarouter serve`, instead of one per ASGI message.

uvicorn writes each ASGI message as it comes: a non-streamed answer is two `send` system calls, the status line
and headers (`http.response.start`), then the body. Both arrive in the same step of the route's task, so holding
the first until the second comes (or the loop iteration ends) and writing both at once costs no latency and saves
a system call per answer: of the request path's three socket writes (the upstream request, the answer's head, its
body), one (strace: 3.0 -> 2.0 `write` calls per request). Measured on `lambdarouter serve` under load (py-spy,
docs/performance.md "The request path"), the socket writes were 14 % of the event loop's busy time. A stream's
head leaves with its first chunk; each later chunk at the end of the iteration that produced it. The one write a
step ends on waits for the rest of that step: a stream's last write (usage chunk, `[DONE]`) waits for the relay's
settle, which runs in the same step (http/sse.py `background`; tens of microseconds on SQLite).

Back-pressure is kept: what is held counts in `get_write_buffer_size`, and more than `FLUSH_BYTES` held is written
at once, so uvicorn's flow control (pause_writing from the real transport) sees what it would have seen.
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
        self._held: list[bytes] = []
        self._size = 0
        self._flush_due = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Held until the next write or the end of this loop iteration, whichever comes first: the second write
        of a step (an answer's body after its head) sends both at once, so nothing waits on the rest of the step."""
        if not data:
            return
        self._held.append(bytes(data))
        self._size += len(data)
        if len(self._held) > 1 or self._size >= FLUSH_BYTES:
            self.flush()
        elif not self._flush_due:
            self._flush_due = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_due = False
        if not self._held:
            return
        held = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held, self._size = [], 0
        if not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()  # what was written before the close still goes out first, as with the real transport
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingProtocol(asyncio.Protocol):
    """Mixed in before uvicorn's HTTP protocol class (http/header_timeout.py `header_timeout_protocol`): its
    transport, once uvicorn has it, is wrapped in `CoalescedWrites`."""

    loop: asyncio.AbstractEventLoop  # set by uvicorn's protocol class
    transport: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescedWrites(self.transport, self.loop)
