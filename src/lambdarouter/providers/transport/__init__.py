"""The one place the gateway sends HTTP to providers.

Two interchangeable backends do the I/O behind one small interface (`Backend`): httpx (the default, and
what every Lambda function uses) and aiohttp (`lambdarouter serve`, when the `serve` extra installed it;
see `use_backend`). Why two: a Lambda container serves one request at a time, where httpx costs little and
aiohttp's import would add ~60 ms to every cold start; a long-running server under concurrent load spends
~2 ms of CPU per request in httpx's pool, about half that in aiohttp's (docs/performance.md).

Both keep one client per event loop at module scope, so warm Lambda invocations and a local server reuse
upstream connections, and neither reads proxies from the environment. Transport failures become
`GatewayError`s here, with the status the design's table gives them (a timeout 408, anything else 502,
both retryable); HTTP error statuses are handed to the adapter's own error mapping, with the request's
credential scrubbed from what it says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Protocol

from msgspec.structs import replace

from lambdarouter.core import config
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import HostSpec
from lambdarouter.providers.base import HttpRequest
from lambdarouter.providers.transport.base import Backend, OpenStream, Timeouts, TransportError
from lambdarouter.providers.transport.httpx_backend import HttpxBackend


class ErrorMapper(Protocol):
    """All the transport needs of an adapter (chat, embeddings, images): its error mapping."""

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...


_defaults: Timeouts | None = None  # the settings' (core/config.py), read on first use, or `configure_timeouts`
_backend: Backend = HttpxBackend()


def use_backend(name: str) -> None:
    """Switch every later call to "httpx" or "aiohttp" (ImportError when that library is missing)."""
    global _backend
    if name == "aiohttp":
        from lambdarouter.providers.transport.aiohttp_backend import AiohttpBackend

        _backend = AiohttpBackend()
    elif name == "httpx":
        _backend = HttpxBackend()
    else:
        raise ValueError(f"unknown transport backend {name!r}")


async def aclose() -> None:
    """Close the running loop's upstream client (a server shutting down; tests)."""
    await _backend.aclose()


def configure_timeouts(connect: float, read: float) -> None:
    """Timeouts other than the settings' (LAMBDAROUTER_CONNECT_TIMEOUT / _READ_TIMEOUT), for this process."""
    global _defaults
    _defaults = Timeouts(connect=connect, read=read)  # read at each call: the clients need no rebuilding


def default_timeouts() -> Timeouts:
    global _defaults
    if _defaults is None:
        settings = config.current()
        _defaults = Timeouts(connect=settings.connect_timeout, read=settings.read_timeout)
    return _defaults


def timeout_for(host: HostSpec) -> Timeouts | None:
    """The host's own timeouts, if it has any (else the defaults apply)."""
    if host.connect_timeout is None and host.read_timeout is None:
        return None
    defaults = default_timeouts()
    return Timeouts(connect=host.connect_timeout or defaults.connect, read=host.read_timeout or defaults.read)


def _transport_error(exc: TransportError, provider: str) -> GatewayError:
    if exc.timed_out:
        return GatewayError(408, f"{provider}: timed out waiting for the provider.",
                            metadata={"provider_name": provider}, retryable=True, origin="transport")
    return GatewayError(502, f"{provider}: could not reach the provider ({exc.cause}).",
                        metadata={"provider_name": provider}, retryable=True, origin="transport")


# Headers that carry the host's credential (providers/openai/chat.py, anthropic.py, gemini.py and their siblings).
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


def _mapped(adapter: ErrorMapper, status: int, headers: Mapping[str, str], body: bytes, provider: str,
            request: HttpRequest) -> GatewayError:
    """The adapter's mapping of an HTTP error status: the provider's answer, without the credential the request
    carried (a provider that echoes the key it was sent, "Incorrect API key provided: ...", must not hand it to
    the client or the ledger)."""
    error = adapter.map_error(status, headers, body, provider)
    error.origin = "upstream"
    secrets = [token for name, raw in request.headers.items() if name.lower() in _CREDENTIAL_HEADERS
               if len(token := raw.removeprefix("Bearer ").strip()) >= 8]
    return error.redact(secrets)


async def _authorized(request: HttpRequest, provider: str, timeouts: Timeouts) -> HttpRequest:
    """The request with the headers its authorizer fetches (an OAuth token exchange), through this transport."""
    if request.authorize is None:
        return request

    async def fetch(token_request: HttpRequest) -> tuple[int, bytes]:
        reply = await _backend.send(token_request, timeouts)
        return reply.status, reply.body

    try:
        headers = await request.authorize(fetch)
    except TransportError as exc:
        raise _transport_error(exc, provider) from None
    return replace(request, headers={**request.headers, **headers}, authorize=None)


async def send(request: HttpRequest, adapter: ErrorMapper, provider: str, timeouts: Timeouts | None = None) -> bytes:
    """A non-streamed call: the body of a 2xx response, or the adapter's mapped error."""
    timeouts = timeouts or default_timeouts()
    request = await _authorized(request, provider, timeouts)
    try:
        reply = await _backend.send(request, timeouts)
    except TransportError as exc:
        raise _transport_error(exc, provider) from None
    if reply.status >= 400:
        raise _mapped(adapter, reply.status, reply.headers, reply.body, provider, request)
    return reply.body


@asynccontextmanager
async def open_stream(request: HttpRequest, adapter: ErrorMapper, provider: str,
                      timeouts: Timeouts | None = None) -> AsyncIterator[AsyncIterator[bytes]]:
    """A streamed call: yields the body's byte pieces once a 2xx status arrived.

    Errors before the status (and error statuses) raise before anything is yielded, so the caller can
    still fall back; errors while reading raise from the iterator. The response is closed on exit, and
    on cancellation (a client gone): the upstream sees its connection close.
    """
    timeouts = timeouts or default_timeouts()
    request = await _authorized(request, provider, timeouts)
    async with AsyncExitStack() as stack:
        try:
            response = await stack.enter_async_context(_backend.stream(request, timeouts))
        except TransportError as exc:
            raise _transport_error(exc, provider) from None
        if response.status >= 400:
            try:
                body = await response.read()
            except TransportError:
                body = b""
            raise _mapped(adapter, response.status, response.headers, body, provider, request)
        yield _pieces(response, provider)


async def open_held(request: HttpRequest, adapter: ErrorMapper, provider: str,
                    timeouts: Timeouts | None = None) -> tuple[AsyncExitStack, AsyncIterator[bytes]]:
    """`open_stream` for a stream that outlives the caller (a relay): the caller closes the stack when done."""
    stack = AsyncExitStack()
    try:
        pieces = await stack.enter_async_context(open_stream(request, adapter, provider, timeouts))
    except BaseException:
        await stack.aclose()
        raise
    return stack, pieces


async def _pieces(response: OpenStream, provider: str) -> AsyncIterator[bytes]:
    try:
        async for piece in response.pieces():
            yield piece
    except TransportError as exc:
        raise _transport_error(exc, provider) from None
