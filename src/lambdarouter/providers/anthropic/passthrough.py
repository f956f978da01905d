"""Claude on Anthropic's own API, for clients that already speak Messages: the body forwarded as sent.

The client's request reaches `POST {base}/v1/messages` (or `/v1/messages/count_tokens`) byte for byte except its
`model`, which becomes the endpoint's upstream id (body.py); its `anthropic-version` and `anthropic-beta`
headers go along, the gateway's key replaces the client's. The answer is read on the side as it is relayed:
`MessagesRelay` hands on the provider's own stream events as they arrive, each piece with what the books count
of it (the `AnthropicStreamDecoder` chat uses, so both count Anthropic's usage the same way).
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import Struct

from lambdarouter.core.events import StreamEvent
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.anthropic.body import with_value
from lambdarouter.providers.anthropic.family import ANTHROPIC_VERSION
from lambdarouter.providers.anthropic.stream import AnthropicStreamDecoder
from lambdarouter.providers.base import HttpRequest, StreamDecoder
from lambdarouter.providers.sse import SSEDecoder, SSEEvent

# Events the relay does not hand on as they come: an upstream `error` is the gateway's to report (errors.py).
NOT_RELAYED = frozenset({"error"})


class ClientHeaders(Struct, frozen=True):
    """What of the client's request headers a Messages provider receives."""

    version: str | None
    betas: tuple[str, ...]

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> ClientHeaders:
        betas = tuple(b.strip() for b in (headers.get("anthropic-beta") or "").split(",") if b.strip())
        return cls(headers.get("anthropic-version"), betas)


def request_headers(host: ResolvedHost, client: ClientHeaders, stream: bool) -> dict[str, str]:
    out = {
        "content-type": "application/json",
        "accept": "text/event-stream" if stream else "application/json",
        "anthropic-version": client.version or ANTHROPIC_VERSION,
        **host.spec.headers,  # a configured host may add headers, e.g. its own `anthropic-beta`
    }
    betas = [*client.betas, *(b for b in out.get("anthropic-beta", "").split(",") if b and b not in client.betas)]
    if betas:
        out["anthropic-beta"] = ",".join(betas)
    if host.api_key and host.spec.auth == "x-api-key":
        out["x-api-key"] = host.api_key
    elif host.api_key and host.spec.auth == "bearer":  # Anthropic-compatible proxies that take a bearer token
        out["authorization"] = f"Bearer {host.api_key}"
    return out


def forwarded(body: bytes, host: ResolvedHost, upstream_id: str, client: ClientHeaders, stream: bool,
              path: str = "/v1/messages") -> HttpRequest:
    """The client's body as the provider receives it: only `model` rewritten."""
    return HttpRequest("POST", f"{host.base_url}{path}", request_headers(host, client, stream),
                       with_value(body, "model", upstream_id))


class Relayed(Struct, frozen=True):
    """A piece of a Messages stream on its way: the provider's events to hand on, and what the books count of them.

    Each piece carries at least one counted event (the relay shows only pieces that produced something); events
    that count nothing (a block's start or stop, `ping`) wait for the next piece that does."""

    sse: tuple[SSEEvent, ...]
    events: tuple[StreamEvent, ...]


class MessagesRelay:
    """Messages stream bytes → `Relayed` pieces, as they arrive (`ByteDecoder`)."""

    def __init__(self, provider: str | None = None) -> None:
        self._sse = SSEDecoder()
        self._side: StreamDecoder = AnthropicStreamDecoder(provider)  # `provider`: the host its errors blame
        self._waiting: list[SSEEvent] = []

    def feed(self, chunk: bytes) -> list[Relayed]:
        # Both decoders split the same bytes at the same event boundaries: each call sees the same events.
        return self._piece(self._sse.feed(chunk), self._side.feed(chunk))

    def close(self) -> list[Relayed]:
        return self._piece(self._sse.flush(), self._side.close())

    def _piece(self, received: list[SSEEvent], counted: list[StreamEvent]) -> list[Relayed]:
        self._waiting.extend(e for e in received if e.event not in NOT_RELAYED)
        if not counted:
            return []
        piece = Relayed(tuple(self._waiting), tuple(counted))
        self._waiting = []
        return [piece]

