"""The aiohttp backend of providers/transport/__init__.py, for `lambdarouter serve` (the `serve` extra installs it).

Under concurrent load httpx's pool spends CPU per pooled connection on every request; aiohttp's does not
(bench: CPU per request at concurrency 32 from ~2.2 to ~1.2 ms, flat from 32 to 128 connections). Its
import (~85 ms) is why the Lambda functions keep httpx: they pay it on every cold start and serve one
request at a time. Same semantics as the httpx backend: no redirects followed, no proxies from the
environment, bodies decompressed, a connect and a per-read timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager

import aiohttp
from yarl import URL

from lambdarouter.providers.base import HttpRequest
from lambdarouter.providers.transport.base import Reply, Timeouts, TransportError


@contextmanager
def _neutral_errors() -> Iterator[None]:
    try:
        yield
    except TimeoutError as exc:  # aiohttp's own timeouts (ServerTimeoutError, ...) are TimeoutErrors too
        raise TransportError(type(exc).__name__, timed_out=True) from None
    except aiohttp.ClientError as exc:
        raise TransportError(type(exc).__name__, timed_out=False) from None


class _Stream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        with _neutral_errors():
            return await self.response.read()

    async def pieces(self) -> AsyncIterator[bytes]:
        content = self.response.content
        while True:
            try:
                with _neutral_errors():
                    piece = await content.readany()  # what arrived, as it arrives; b"" at the end
            except TransportError:
                # Once the connection failed, aiohttp raises before handing over what it had already
                # received (StreamReader.readany); httpx hands that over first, and so must this backend:
                # it is text the client is owed, and charged for. No public API reads it: the private
                # one is pinned by tests/test_transport.py (a stream cut while nobody was reading).
                if leftover := content._read_nowait(-1):
                    yield leftover
                raise
            if not piece:
                return
            yield piece


class AiohttpBackend:
    def __init__(self) -> None:
        # By loop id, with the loop itself: a session is bound to the loop it was made on, and holding the
        # loop keeps its id from being reused by a later one.
        self._sessions: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}
        self._timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(id(loop))
        if entry is not None and not entry[1].closed:
            return entry[1]
        for key in [k for k, (other, _) in self._sessions.items() if other.is_closed()]:
            del self._sessions[key]  # loops that are gone (tests run many): collected with their sockets
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=60),
                                        timeout=aiohttp.ClientTimeout(total=None), trust_env=False)
        self._sessions[id(loop)] = (loop, session)
        return session

    async def aclose(self) -> None:
        entry = self._sessions.pop(id(asyncio.get_running_loop()), None)
        if entry is not None:
            await entry[1].close()

    def _timeout(self, timeouts: Timeouts) -> aiohttp.ClientTimeout:
        made = self._timeouts.get(timeouts)
        if made is None:
            # sock_read: between reads, as httpx's read timeout; no total: a stream may run for minutes.
            made = self._timeouts[timeouts] = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect,
                                                                    sock_read=timeouts.read)
        return made

    async def _open(self, request: HttpRequest, timeouts: Timeouts) -> aiohttp.ClientResponse:
        # encoded=True: the URL goes out byte for byte as the adapter built it (Bedrock signs its path).
        return await self.session().request(request.method, URL(request.url, encoded=True),
                                            headers=request.headers, data=request.body,
                                            timeout=self._timeout(timeouts), allow_redirects=False)

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> Reply:
        with _neutral_errors():
            response = await self._open(request, timeouts)
            async with response:
                body = await response.read()
        return Reply(response.status, response.headers, body)

    @asynccontextmanager
    async def stream(self, request: HttpRequest, timeouts: Timeouts) -> AsyncIterator[_Stream]:
        with _neutral_errors():
            response = await self._open(request, timeouts)
        try:
            yield _Stream(response)
        finally:
            if response.content.at_eof():
                response.release()  # read to the end: the connection goes back to the pool
            else:
                response.close()  # cut short (a client gone, an error): drop it, the upstream sees that
