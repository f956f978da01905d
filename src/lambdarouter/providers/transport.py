"""The one place the gateway sends HTTP to providers.

One `httpx.AsyncClient` per event loop lives at module scope, so warm Lambda invocations and a local
server reuse upstream connections. Transport failures become `GatewayError`s here, with the status the
design's table gives them; HTTP error statuses are handed to the adapter's own error mapping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx

from lambdarouter.errors import GatewayError
from lambdarouter.hosts import HostSpec
from lambdarouter.providers.base import HttpRequest


class ErrorMapper(Protocol):
    """All the transport needs of an adapter (chat, embeddings, images): its error mapping."""

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...

_clients: dict[int, httpx.AsyncClient] = {}
_timeouts = {"connect": 10.0, "read": 300.0}


def configure_timeouts(connect: float, read: float) -> None:
    _timeouts.update(connect=connect, read=read)
    _clients.clear()


def client() -> httpx.AsyncClient:
    """The client bound to the running loop (httpx pools cannot cross event loops)."""
    loop_id = id(asyncio.get_running_loop())
    existing = _clients.get(loop_id)
    if existing is None or existing.is_closed:
        timeout = httpx.Timeout(_timeouts["read"], connect=_timeouts["connect"])
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=64, keepalive_expiry=60)
        existing = _clients[loop_id] = httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False)
    return existing


def _transport_error(exc: httpx.HTTPError, provider: str) -> GatewayError:
    if isinstance(exc, httpx.TimeoutException):
        return GatewayError(408, f"{provider}: timed out waiting for the provider.",
                            metadata={"provider_name": provider}, retryable=True)
    return GatewayError(502, f"{provider}: could not reach the provider ({type(exc).__name__}).",
                        metadata={"provider_name": provider}, retryable=True)


# Headers that carry the host's credential (providers/openai.py, anthropic.py, gemini.py and their siblings).
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


def _scrub(value: Any, secrets: frozenset[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def _redacted(error: GatewayError, request: HttpRequest) -> GatewayError:
    """The mapped error without the credential the request carried: a provider that echoes the key it was
    sent in its error body ("Incorrect API key provided: ...") must not hand it to the client or the ledger."""
    secrets = frozenset(token for name, raw in request.headers.items() if name.lower() in _CREDENTIAL_HEADERS
                        if len(token := raw.removeprefix("Bearer ").strip()) >= 8)
    if secrets:
        error.message = _scrub(error.message, secrets)
        error.args = (error.message,)
        error.metadata = _scrub(error.metadata, secrets)
    return error


def timeout_for(host: HostSpec) -> httpx.Timeout | None:
    """The host's own timeouts, if it has any (else the client's defaults apply)."""
    if host.connect_timeout is None and host.read_timeout is None:
        return None
    return httpx.Timeout(host.read_timeout or _timeouts["read"], connect=host.connect_timeout or _timeouts["connect"])


async def send(request: HttpRequest, adapter: ErrorMapper, provider: str,
               timeouts: httpx.Timeout | None = None) -> bytes:
    """A non-streamed call: the body of a 2xx response, or the adapter's mapped error."""
    try:
        response = await client().request(request.method, request.url, headers=request.headers,
                                          content=request.body, timeout=_or_default(timeouts))
    except httpx.HTTPError as exc:
        raise _transport_error(exc, provider) from None
    if response.status_code >= 400:
        raise _redacted(adapter.map_error(response.status_code, response.headers, response.content, provider), request)
    return response.content


@asynccontextmanager
async def open_stream(request: HttpRequest, adapter: ErrorMapper, provider: str,
                      timeouts: httpx.Timeout | None = None) -> AsyncIterator[
    AsyncIterator[bytes]
]:
    """A streamed call: yields the body's byte pieces once a 2xx status arrived.

    Errors before the status (and error statuses) raise before anything is yielded, so the caller can
    still fall back; errors while reading raise from the iterator.
    """
    http = client()
    try:
        response = await http.send(
            http.build_request(request.method, request.url, headers=request.headers, content=request.body,
                               timeout=_or_default(timeouts)),
            stream=True,
        )
    except httpx.HTTPError as exc:
        raise _transport_error(exc, provider) from None
    try:
        if response.status_code >= 400:
            try:
                body = await response.aread()
            except httpx.HTTPError:
                body = b""
            raise _redacted(adapter.map_error(response.status_code, response.headers, body, provider), request)
        yield _pieces(response, provider)
    finally:
        await response.aclose()


def _or_default(timeout: httpx.Timeout | None) -> httpx.Timeout:
    # httpx reads `timeout=None` as "no timeout at all": absent means the client's defaults.
    return timeout if timeout is not None else client().timeout


async def _pieces(response: httpx.Response, provider: str) -> AsyncIterator[bytes]:
    try:
        async for piece in response.aiter_bytes():
            yield piece
    except httpx.HTTPError as exc:
        raise _transport_error(exc, provider) from None
