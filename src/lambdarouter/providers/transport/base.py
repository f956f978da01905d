"""The interface both transport backends implement (httpx_backend.py, aiohttp_backend.py), and the
library-neutral types it speaks: what providers/transport/__init__.py needs of an HTTP client, no more."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from msgspec import Struct

from lambdarouter.providers.base import HttpRequest


class Timeouts(Struct, frozen=True):
    """Seconds to connect (TCP and TLS), and to wait for each read of the response."""

    connect: float
    read: float


class TransportError(Exception):
    """What a backend raises for any failure below HTTP: the provider could not be reached or read."""

    def __init__(self, cause: str, *, timed_out: bool) -> None:
        super().__init__(cause)
        self.cause = cause  # the library's exception class name: never its message (it may hold the URL)
        self.timed_out = timed_out


class Reply(Struct, frozen=True):
    status: int
    headers: Mapping[str, str]
    body: bytes


class OpenStream(Protocol):
    """A response whose status and headers arrived; the body is still to be read."""

    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes: ...

    def pieces(self) -> AsyncIterator[bytes]: ...


class Backend(Protocol):
    """One HTTP client library. Its methods raise `TransportError` for failures below HTTP, never their
    library's own exceptions; HTTP error statuses are returned like any other."""

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> Reply: ...

    def stream(self, request: HttpRequest, timeouts: Timeouts) -> AbstractAsyncContextManager[OpenStream]:
        """The response once its headers arrived; closed on exit (the connection dropped if unread)."""
        ...

    async def aclose(self) -> None:
        """Close the running loop's client and its connections (the next call opens a new one)."""
        ...
