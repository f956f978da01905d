"""POST /messages (Anthropic's Messages API) as a streaming `Operation`, whichever way each candidate serves it.

Three ways, decided per endpoint (`way`): Claude on Anthropic's API gets the client's body as sent with only the
model rewritten (providers/anthropic/passthrough.py), Claude on Bedrock gets it as Bedrock's native InvokeModel
body (providers/bedrock/invoke.py), and every other model gets the request translated into the canonical
conversation and sent through its own wire format (dialects/anthropic/translate.py). The first two answer in
Messages already: their stream is relayed as it arrives and read on the side for the books; the third's events
are rendered as Messages (dialects/anthropic/stream.py). Whatever the way, the last `message_delta` (and a
non-streamed answer's `usage`) tells what the books charged, `cost` included. Admission, failover, the ledger
row and the settled hold are the gateway's, as for every operation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from msgspec import Struct
from msgspec.structs import replace

from lambdarouter.core.budget import Quote, prompt_price
from lambdarouter.core.catalog import Catalog
from lambdarouter.core.conversation import ChatRequest
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent, TokenUsage
from lambdarouter.core.routing import Candidate
from lambdarouter.dialects.anthropic.errors import error_event
from lambdarouter.dialects.anthropic.models import catalog_id
from lambdarouter.dialects.anthropic.request import MessagesRequest
from lambdarouter.dialects.anthropic.size import measure, server_tools
from lambdarouter.dialects.anthropic.stream import MessageRenderer, closing, fold, frame, with_usage
from lambdarouter.dialects.anthropic.translate import to_canonical
from lambdarouter.dialects.openrouter.assemble import Identity
from lambdarouter.gateway.image_fetch import fetch_images, inline_remote_images
from lambdarouter.gateway.operation import Opened, Receipt, StreamingOperation
from lambdarouter.gateway.upstream import parsed
from lambdarouter.providers import adapter_for, transport
from lambdarouter.providers.anthropic.passthrough import ClientHeaders, MessagesRelay, Relayed, forwarded
from lambdarouter.providers.anthropic.stream import parse_message
from lambdarouter.providers.base import ByteDecoder, HttpRequest, UpstreamCall, WireAdapter, decoded

Way = Literal["anthropic", "bedrock", "translated"]
Piece = Relayed | StreamEvent
HELD = frozenset({"message_delta", "message_stop"})  # told at the end, with what the books charged
# Claude's Bedrock ids: `anthropic.claude-…` and its cross-Region profiles (`us.anthropic.…`), as
# providers/bedrock/chat.py tells them (not imported: Bedrock's modules import botocore, which only a Bedrock
# request should pay for).
CLAUDE_ON_BEDROCK = "anthropic."


def way(candidate: Candidate) -> Way:
    """How this endpoint is asked: in Messages itself (Anthropic's API, Claude on Bedrock) or translated."""
    wire_format = candidate.host.spec.wire_format
    if wire_format == "anthropic":
        return "anthropic"
    if wire_format == "bedrock" and CLAUDE_ON_BEDROCK in candidate.endpoint.upstream_id:
        return "bedrock"
    return "translated"


class Answered(Struct, frozen=True):
    """One endpoint's whole answer: the provider's own Messages answer (None when translated) and its events."""

    message: dict[str, Any] | None
    events: list[StreamEvent]


def _native_answer(body: bytes, provider: str) -> Answered:
    """A Messages answer (Anthropic's or Bedrock's), and what the books count of it."""
    events = parse_message(body, provider)  # raises when it is not a Messages answer: the provider's fault
    return Answered(json.loads(body), events)


class MessagesOperation(StreamingOperation[Answered, dict[str, Any], Piece, bytes]):
    def __init__(self, request: MessagesRequest, body: bytes, client: ClientHeaders, catalog: Catalog) -> None:
        self.request, self.body, self.client = request, body, client
        self.model_ids = [catalog_id(request.model, catalog)]
        self.size = measure(request, body)
        self.server_tools = server_tools(request)
        # For the endpoints that do not speak Messages: the request translated once, its images fetched once.
        self._conversation: ChatRequest | None = None
        self._inlined: ChatRequest | None = None
        self._bytes_only: bytes | None = None  # the body with its URL images as bytes, for Claude on Bedrock
        # The stream's state, once one endpoint is relaying it.
        self._renderer: MessageRenderer | None = None
        self._upstream_delta: dict[str, Any] | None = None
        self._relaying = False  # the open stream is the provider's own Messages stream
        self._shown = False

    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        """Every candidate can serve a Messages request; one that needs it translated gets the translation,
        built once here, so a request no such model can take is a 400 before any upstream call."""
        if any(way(c) == "translated" for c in candidates):
            self._conversation = to_canonical(self.request, self.body)
        return candidates

    def output_limit(self, candidate: Candidate) -> int:
        """`max_tokens`, within the endpoint's documented output cap when the model is not Claude: Anthropic's
        clients size it for Claude (Claude Code asks 128,000), which another model's API refuses outright."""
        cap = candidate.endpoint.max_output_tokens
        if way(candidate) != "translated" or cap is None:
            return self.request.max_tokens
        return min(self.request.max_tokens, cap)

    @property
    def label(self) -> str:
        return self.request.model  # as the client named it (the ledger's model requested)

    def quote(self, candidate: Candidate) -> Quote:
        """The prompt at its dearest (cache writes), every server-tool use the request allows with what it brings
        back, and the output limit at its dearest."""
        e = candidate.endpoint
        prompt_cost = self.size.reserved_tokens * prompt_price(e) + self.server_tools.cost(e) + e.request
        price, tokens = max(e.completion, e.reasoning or Decimal(0)), self.output_limit(candidate)
        return Quote(prompt_cost + tokens * price, prompt_cost, tokens, price)

    async def _translated(self, candidate: Candidate, stream: bool) -> tuple[WireAdapter, UpstreamCall]:
        """The adapter of the candidate's wire format and its request for the translated conversation."""
        adapter = adapter_for(candidate.host.spec.wire_format)
        assert self._conversation is not None, "narrow() translates when a candidate needs it"
        conversation = self._conversation
        if adapter.needs_image_bytes:
            if self._inlined is None:
                self._inlined = await inline_remote_images(conversation)
            conversation = self._inlined
        conversation = replace(conversation, max_output_tokens=self.output_limit(candidate))
        return adapter, UpstreamCall(conversation, candidate.endpoint, candidate.host, candidate.supported_parameters,
                                     stream)

    async def _native(self, candidate: Candidate, stream: bool) -> tuple[HttpRequest, ByteDecoder[Relayed]]:
        """The request of an endpoint that speaks Messages, and the reader of its stream."""
        upstream_id = candidate.endpoint.upstream_id
        if way(candidate) == "anthropic":
            relay = MessagesRelay(candidate.host.spec.name)
            return forwarded(self.body, candidate.host, upstream_id, self.client, stream), relay
        from lambdarouter.providers.bedrock import invoke

        if self._bytes_only is None:  # fetched once, whichever Bedrock endpoint is tried
            urls = invoke.url_images(self.body)
            self._bytes_only = invoke.with_image_bytes(self.body, await fetch_images(urls)) if urls else self.body
        request = invoke.invoke(invoke.SIGNER, candidate.host, upstream_id, self._bytes_only, self.client, stream)
        return request, invoke.InvokeRelay(candidate.host.spec.name)

    async def attempt(self, candidate: Candidate) -> Answered:
        provider, timeout = candidate.host.spec.name, transport.timeout_for(candidate.host.spec)
        if way(candidate) == "translated":
            adapter, call = await self._translated(candidate, False)
            body = await transport.send(adapter.build_request(call), adapter, provider, timeout)
            return Answered(None, parsed(provider, adapter.parse_response, body, call))
        mapper = adapter_for(candidate.host.spec.wire_format)
        body = await transport.send((await self._native(candidate, False))[0], mapper, provider, timeout)
        return parsed(provider, _native_answer, body, provider)

    def outcome(self, result: Answered) -> tuple[Sequence[StreamEvent], int]:
        return result.events, 0

    async def answer(self, result: Answered, receipt: Receipt) -> dict[str, Any]:
        """The provider's own message, or the translated events folded into one; either way its usage is what
        the books charged."""
        if result.message is not None:
            return with_usage(result.message, receipt.usage, receipt.cost)
        renderer = MessageRenderer(receipt.id, receipt.served_by.model.id)
        events = [e for event in result.events for e in renderer.feed(event)]
        return fold([*events, *renderer.end(receipt.usage, receipt.cost, None)])

    async def open(self, candidate: Candidate) -> Opened[Piece]:
        provider, timeout = candidate.host.spec.name, transport.timeout_for(candidate.host.spec)
        if way(candidate) == "translated":
            adapter, call = await self._translated(candidate, True)
            stack, raw = await transport.open_held(adapter.build_request(call), adapter, provider, timeout)
            self._relaying = False
            return stack, decoded(raw, adapter.stream_decoder(call))
        mapper = adapter_for(candidate.host.spec.wire_format)
        request, relay = await self._native(candidate, True)
        stack, raw = await transport.open_held(request, mapper, provider, timeout)
        self._relaying = True
        return stack, decoded(raw, relay)

    # Renderer: how the relay counts and shows the pieces.
    def events(self, piece: Piece) -> Sequence[StreamEvent]:
        return piece.events if isinstance(piece, Relayed) else (piece,)

    def chunk(self, identity: Identity, piece: Piece, first: bool) -> bytes | None:
        if isinstance(piece, Relayed):
            out = []
            for event in piece.sse:
                if event.event == "message_delta":
                    self._upstream_delta = json.loads(event.data)
                elif event.event not in HELD:
                    out.append(frame(event.event or "message", event.data))
        else:
            out = [frame(name, payload) for name, payload in self._rendering(identity).feed(piece)]
        self._shown = self._shown or bool(out)
        return b"".join(out) or None

    def ending(self, identity: Identity, usage: TokenUsage, cost: Decimal,
               error: GatewayError | None) -> Sequence[bytes]:
        if error is not None and not self._shown:  # nothing reached the client: the error alone
            return [error_event(error)]
        if self._relaying:
            events = closing(self._upstream_delta, usage, cost, error is not None)
        else:
            events = self._rendering(identity).end(usage, cost, error)
        out = [frame(name, payload) for name, payload in events]
        return [*out, error_event(error)] if error is not None else out

    def _rendering(self, identity: Identity) -> MessageRenderer:
        if self._renderer is None:
            self._renderer = MessageRenderer(identity.id, identity.model)
        return self._renderer

