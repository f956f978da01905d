"""The seam between the service and the wire-format adapters.

An adapter is pure translation: request → `HttpRequest`, response bytes → events, stream bytes →
events, error response → `GatewayError`. The only I/O happens in `transport`, so every adapter is
tested without a network and fallback/retry wrap adapters from outside.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One attempt: a validated request, the endpoint chosen for it and the host's credentials."""

    request: ChatCompletionRequest
    endpoint: EndpointSpec
    host: ResolvedHost
    supported_parameters: frozenset[str]
    stream: bool


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

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

    def parse_response(self, body: bytes) -> list[StreamEvent]: ...

    def stream_decoder(self) -> StreamDecoder: ...

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...


# Request field → the OpenRouter `supported_parameters` name that allows it. A field whose parameter the
# endpoint does not list is dropped before translation, as OpenRouter does.
PARAMETER_OF_FIELD: Mapping[str, str] = {
    "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "stop": "stop",
    "max_tokens": "max_tokens", "max_completion_tokens": "max_tokens", "seed": "seed",
    "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty",
    "repetition_penalty": "repetition_penalty", "min_p": "min_p", "top_a": "top_a",
    "logit_bias": "logit_bias", "logprobs": "logprobs", "top_logprobs": "top_logprobs",
    "response_format": "response_format", "tools": "tools", "tool_choice": "tool_choice",
    "parallel_tool_calls": "tools", "reasoning_effort": "reasoning", "n": "n",
    "verbosity": "verbosity", "web_search_options": "web_search_options",
}


def unsupported_fields(request: ChatCompletionRequest, supported: frozenset[str]) -> set[str]:
    """Fields the client set that this endpoint does not take."""
    return {
        name for name in request.model_fields_set
        if (param := PARAMETER_OF_FIELD.get(name)) is not None and param not in supported
    }


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
