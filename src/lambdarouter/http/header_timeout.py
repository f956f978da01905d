"""A header-read timeout for `lambdarouter serve`: a connection must deliver a request's headers within
`header_timeout` seconds of its first byte (or of connecting), else it is closed.

uvicorn has no such timeout: its keep-alive timeout runs only between requests, and a connection that sent part
of a request line or a header block is held open for as long as the peer likes, so 200 half-sent requests held
200 connections (and their file descriptors) indefinitely (issue 15; the "slowloris" attack). The answer is
what Node's `server.headersTimeout` sends: 408, then close (https://nodejs.org/api/http.html#serverheaderstimeout).
A connection that sent nothing at all is closed without an answer (a browser's preconnect looks the same).

The body is not covered: it arrives after the route has started, which reads it under its own limits.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lambdarouter.core.errors import GatewayError

DEFAULT_HEADER_TIMEOUT = 30.0  # seconds; Node's is 60, Apache's mod_reqtimeout 20 to 40


def _timeout_response() -> bytes:
    body = GatewayError(408, "Request headers were not received in time.").envelope()
    payload = json.dumps(body).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(payload), payload))


class HeaderDeadline(asyncio.Protocol):
    """Mixed in before uvicorn's HTTP protocol class (`header_timeout_protocol`): both of uvicorn's parsers
    (httptools and h11) keep the request in progress in `self.cycle`, created once its headers are parsed."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    # Set by uvicorn's protocol class.
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _header_timer: asyncio.TimerHandle | None = None
    _bytes_seen = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._bytes_seen = True
        if self._header_timer is None and self._awaiting_headers():
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self._header_timer is not None and not self._awaiting_headers():
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        return self.cycle is None or bool(self.cycle.response_complete)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._awaiting_headers():
            return
        if self._bytes_seen:
            self.transport.write(_timeout_response())
        self.transport.close()


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's own HTTP protocol class (httptools when installed, else h11) with the header deadline, writing
    through `CoalescedWrites` (http/coalesced_writes.py)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    from lambdarouter.http.coalesced_writes import CoalescingProtocol

    if seconds <= 0:
        raise ValueError("the header timeout must be a positive number of seconds")
    return type("HeaderDeadlineProtocol", (HeaderDeadline, CoalescingProtocol, AutoHTTPProtocol),
                {"header_timeout": seconds})
