"""The seam between the service and the wire-format adapters.

An adapter is pure translation: request → `HttpRequest`, response bytes → events, stream bytes →
events, error response → `GatewayError`. The only I/O happens in `transport`, so every adapter is
tested without a network and fallback/retry wrap adapters from outside.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from msgspec import Struct
from msgspec.structs import force_setattr

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.conversation import ChatRequest
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.core.parameters import offered


class UpstreamCall(Struct, frozen=True):
    """One attempt: the canonical request, the endpoint chosen for it and the host's credentials.

    `request` holds only what the endpoint takes: the options whose parameter the endpoint does not list
    (`supported_parameters`) are dropped on construction, as OpenRouter drops them, so no adapter has to.
    """

    request: ChatRequest
    endpoint: EndpointSpec
    host: ResolvedHost
    supported_parameters: frozenset[str]
    stream: bool

    def __post_init__(self) -> None:
        force_setattr(self, "request", offered(self.request, self.supported_parameters))


def host_of(call: UpstreamCall | None) -> str | None:
    """The name of the host a call goes to, which the errors of its answer name."""
    return call.host.spec.name if call is not None else None


# The transport's own client, lent to an `Authorizer`: one request → (status, body).
Fetch = Callable[["HttpRequest"], Awaitable[tuple[int, bytes]]]


class Authorizer(Protocol):
    """Headers carrying a credential that takes I/O to get (an OAuth access token, cached by its owner): the
    transport awaits them just before sending, so adapters stay pure and the transport the one place of I/O."""

    async def __call__(self, fetch: Fetch) -> Mapping[str, str]: ...


class HttpRequest(Struct, frozen=True):
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    authorize: Authorizer | None = None

    def __repr__(self) -> str:  # headers carry credentials: never print them
        return f"HttpRequest({self.method} {self.url}, {len(self.body)} bytes)"


class StreamDecoder(Protocol):
    def feed(self, chunk: bytes) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]:
        """The body ended: remaining events, or a GatewayError if it ended before its stop event."""
        ...


Item = TypeVar("Item", covariant=True)
Decoded = TypeVar("Decoded")


class ByteDecoder(Protocol[Item]):
    """Anything that turns a response body's byte pieces into items (a `StreamDecoder`'s events, legacy
    completion pieces): what `decoded` needs."""

    def feed(self, chunk: bytes) -> Iterable[Item]: ...

    def close(self) -> Iterable[Item]: ...


async def decoded(pieces: AsyncIterator[bytes], decoder: ByteDecoder[Decoded]) -> AsyncIterator[Decoded]:
    """The decoder's items as the body's pieces arrive, then what it holds when the body ends."""
    async for piece in pieces:
        for item in decoder.feed(piece):
            yield item
    for item in decoder.close():
        yield item


async def decoded_batches(pieces: AsyncIterator[bytes], decoder: ByteDecoder[Decoded]) -> AsyncIterator[list[Decoded]]:
    """The decoder's items a read at a time: all that one piece of the body held, as soon as it arrived (what
    arrives together leaves together, in one write to the client), then what it holds when the body ends. A
    piece that completed no item (half an event) yields nothing."""
    async for piece in pieces:
        if items := list(decoder.feed(piece)):
            yield items
    if items := list(decoder.close()):
        yield items


class WireAdapter(Protocol):
    # True when the provider cannot take http(s) image URLs: the service fetches them (SSRF-safe) first.
    needs_image_bytes: bool

    def build_request(self, call: UpstreamCall) -> HttpRequest: ...

    def parse_response(self, body: bytes, call: UpstreamCall | None = None) -> list[StreamEvent]:
        """A whole answer's events; errors name the call's host (the gateway always passes the call)."""
        ...

    def stream_decoder(self, call: UpstreamCall | None = None) -> StreamDecoder:
        """A decoder for this call's stream; its errors name the call's host."""
        ...

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...


# Upstream HTTP status → (gateway status, may another endpoint succeed?). The shared default every
# adapter's own table starts from; see DESIGN.md "Errors".
STATUS_TABLE: Mapping[int, tuple[int, bool]] = {
    400: (400, False),
    401: (502, True),  # the gateway's provider credentials were refused: not the client's fault
    403: (502, True),
    404: (404, False),
    408: (408, True),
    409: (502, True),
    413: (413, False),
    422: (400, False),
    429: (429, True),
}


def gateway_status(status: int, table: Mapping[int, tuple[int, bool]] = STATUS_TABLE) -> tuple[int, bool]:
    if status in table:
        return table[status]
    if status >= 500:
        return 502, True
    return 400, False


def parse_json_body(body: bytes) -> Any:
    """The upstream body as JSON, else as text (errors keep it raw in `metadata.raw`)."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")[:2000]


def upstream_error(
    status: int, headers: Mapping[str, str], raw: Any, message: str, provider: str,
    table: Mapping[int, tuple[int, bool]] = STATUS_TABLE,
) -> GatewayError:
    code, retryable = gateway_status(status, table)
    keep = {"retry-after": headers["retry-after"]} if "retry-after" in headers else None
    return GatewayError(
        code,
        f"{provider}: {message}" if message else f"{provider} returned HTTP {status}",
        metadata={"provider_name": provider, "raw": raw, "status": status},
        headers=keep,
        retryable=retryable,
        origin="upstream",
    )
