"""The one Server-Sent Events writer every streaming route uses: a relay's chunks on the wire as they come.

Each piece the relay yields (what one upstream read produced: one event, or several that arrived together) is
one write; the stream's closing chunks, the end marker and the end of the body are one more. The response task
itself iterates the relay: no producer task, no queue, no timer per chunk (issue 20's profile found a fifth of
a streamed request's CPU in those). Two things run beside it, one of each per stream:

- a disconnect listener: a client that goes away cancels the relay (through anyio, whose shielded scope
  keeps the books being written), so the upstream connection closes and what was produced is recorded;
- a keep-alive clock, re-armed once per interval rather than per chunk: when nothing was written for an
  interval, it writes a `: keep-alive` comment itself, because API Gateway closes a stream idle for
  5 minutes and proxies sooner. ASGI servers write each `send` message whole (uvicorn's `send` puts the
  message on the transport without yielding, once any paused writing drained), so a keep-alive written
  while the relay waits for the upstream cannot land inside a chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lambdarouter.gateway.relay import Relay

KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def data_event(chunk: Any) -> bytes:
    """An OpenAI-style event: bytes an operation wrote itself as they are, else a model's JSON on a `data:`
    line without its null fields."""
    if isinstance(chunk, bytes):
        return chunk
    serialized: str = chunk.model_dump_json(exclude_none=True)
    return b"data: " + serialized.encode() + b"\n\n"


class EventStream(Response):
    """`text/event-stream` of an opened relay: its chunks framed (`frame`; OpenAI's `data:` lines by default),
    then its closing chunks and `done` (`data: [DONE]`; empty for a dialect without an end marker) in the
    body's last write. `background` runs after the body, however it ended (the relay's `close`)."""

    media_type = "text/event-stream"

    def __init__(self, relay: Relay[Any, Any], *, keepalive: float, frame: Callable[[Any], bytes] = data_event,
                 done: bytes = DONE, headers: Mapping[str, str] | None = None,
                 background: BackgroundTask | None = None) -> None:
        self.relay, self.keepalive, self.frame, self.done = relay, keepalive, frame, done
        self.status_code = 200
        self.background = background
        self.init_headers({**SSE_HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if not await self._stream(receive, send):
                # The client left: end the body all the same (a no-op for a server that saw it go).
                with contextlib.suppress(OSError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if self.background is not None:
                await self.background()

    async def _stream(self, receive: Receive, send: Send) -> bool:
        """The body, ended by its last write (True), or cut short by the client leaving (False)."""
        clock = _KeepAliveClock(send, self.keepalive)
        with anyio.CancelScope() as body_scope:
            listener = asyncio.get_running_loop().create_task(cancel_on_disconnect(receive, body_scope))
            try:
                await self._body(clock)
                last = b"".join([*map(self.frame, self.relay.ending()), self.done])
                await clock.stop()
                await send({"type": "http.response.body", "body": last, "more_body": False})
                return True
            finally:
                listener.cancel()
                await clock.stop()
        return False

    async def _body(self, clock: _KeepAliveClock) -> None:
        chunks: AsyncGenerator[Any, None] = self.relay.chunks()
        frame, send = self.frame, clock.send
        try:
            async for chunk in chunks:
                clock.writing = True
                await send({"type": "http.response.body", "body": frame(chunk), "more_body": True})
                clock.writing = False
                clock.wrote()
        finally:
            await chunks.aclose()  # the books are closed even when the loop broke off


async def cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class _KeepAliveClock:
    """Writes `: keep-alive` when nothing else was written for `interval` seconds. One timer per stream, re-armed
    when it fires (for when the interval will have passed since the last write), never per chunk."""

    def __init__(self, send: Send, interval: float) -> None:
        self.send, self.interval = send, interval
        self.writing = False  # the body is in a write (perhaps waiting for a slow client): no keep-alive needed
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._pending: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = self._loop.call_at(self._last + interval, self._tick)

    def wrote(self) -> None:
        self._last = self._loop.time()

    def _tick(self) -> None:
        now = self._loop.time()
        due = self._last + self.interval
        if now >= due:
            if not self.writing and self._pending is None:
                self._pending = self._loop.create_task(self._write())
            due = now + self.interval
        self._timer = self._loop.call_at(due, self._tick)

    async def _write(self) -> None:
        try:
            await self.send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
        except OSError:
            pass  # the client is gone: the disconnect listener ends the stream
        finally:
            self.wrote()
            self._pending = None

    async def stop(self) -> None:
        """No more keep-alives; one being written finishes first (the body's last write comes after it)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, None
        if pending is not None:
            with anyio.CancelScope(shield=True):
                await asyncio.wait([pending])
