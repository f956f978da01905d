"""The httpx backend of providers/transport/__init__.py: the default, and what the Lambda functions use.

Its import is cheap (~25 ms with httpcore, against ~85 ms for aiohttp), which is what a cold start pays;
its pool costs CPU per pooled connection on every request, which only concurrency makes visible, and a
Lambda container serves one request at a time.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from functools import cache

import httpx

from lambdarouter.providers.base import HttpRequest
from lambdarouter.providers.transport.base import Reply, Timeouts, TransportError

LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=64, keepalive_expiry=60)


@contextmanager
def _neutral_errors() -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransportError(type(exc).__name__, timed_out=True) from None
    except httpx.HTTPError as exc:
        raise TransportError(type(exc).__name__, timed_out=False) from None


@cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS context, as httpx builds it for `verify=True` (certifi's CA bundle): loading the
    bundle costs ~25 ms of CPU, paid once (a Lambda function pays it in its init, http/function.py), not again by
    the client of each event loop."""
    return httpx.create_ssl_context(trust_env=False)


def _timeout(timeouts: Timeouts) -> httpx.Timeout:
    return httpx.Timeout(timeouts.read, connect=timeouts.connect)  # write and pool waits: as long as a read


class _Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        with _neutral_errors():
            return await self.response.aread()

    async def pieces(self) -> AsyncIterator[bytes]:
        with _neutral_errors():
            async for piece in self.response.aiter_bytes():
                yield piece


class HttpxBackend:
    def __init__(self) -> None:
        self._clients: dict[int, httpx.AsyncClient] = {}

    def client(self) -> httpx.AsyncClient:
        """The client bound to the running loop (httpx pools cannot cross event loops)."""
        loop_id = id(asyncio.get_running_loop())
        existing = self._clients.get(loop_id)
        if existing is None or existing.is_closed:
            existing = self._clients[loop_id] = httpx.AsyncClient(limits=LIMITS, trust_env=False,
                                                                          verify=tls_context())
        return existing

    async def aclose(self) -> None:
        existing = self._clients.pop(id(asyncio.get_running_loop()), None)
        if existing is not None:
            await existing.aclose()

    async def send(self, request: HttpRequest, timeouts: Timeouts) -> Reply:
        with _neutral_errors():
            response = await self.client().request(request.method, request.url, headers=request.headers,
                                                   content=request.body, timeout=_timeout(timeouts))
        return Reply(response.status_code, response.headers, response.content)

    @asynccontextmanager
    async def stream(self, request: HttpRequest, timeouts: Timeouts) -> AsyncIterator[_Stream]:
        http = self.client()
        with _neutral_errors():
            response = await http.send(http.build_request(request.method, request.url, headers=request.headers,
                                                          content=request.body, timeout=_timeout(timeouts)),
                                       stream=True)
        try:
            yield _Stream(response)
        finally:
            await response.aclose()
