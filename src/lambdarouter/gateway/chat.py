"""POST /chat/completions as an operation: the request through each candidate's wire-format adapter, the answer
as OpenAI's chat completion or chunks, priced per token with generated images among the output tokens."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal

from lambdarouter.core.budget import Quote, measure, quote
from lambdarouter.core.catalog import Catalog
from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.conversation import ChatRequest
from lambdarouter.core.credentials import Credentials
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import ReasoningDelta, StreamEvent, TokenUsage
from lambdarouter.core.health import HealthBoard
from lambdarouter.core.routing import Candidate, plan, requested_models
from lambdarouter.dialects.openrouter.answer import completion_bytes
from lambdarouter.dialects.openrouter.assemble import Identity
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.chunks import ChunkWriter
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.gateway.image_fetch import inline_remote_images
from lambdarouter.gateway.operation import Opened, Priced, Receipt, StreamingOperation, token_priced_images
from lambdarouter.gateway.upstream import parsed
from lambdarouter.providers import adapter_for, transport
from lambdarouter.providers.base import UpstreamCall, WireAdapter, decoded_batches


class ChatOperation(StreamingOperation[list[StreamEvent], bytes, list[StreamEvent], bytes]):
    """The answer is its JSON bytes (dialects/openrouter/answer.py). Streamed, a piece is what one upstream read
    decoded to, and its chunk is the bytes of its events' `data:` lines (dialects/openrouter/chunks.py)."""

    def __init__(self, request: ChatCompletionRequest) -> None:
        self.request = request
        self.model_ids = requested_models(request.model, request.models)
        self.provider = request.provider
        self.conversation = to_canonical(request)  # what routing, the budget and the adapters read
        self.size = measure(self.conversation)
        self._inlined: ChatRequest | None = None  # the conversation with remote images fetched, once
        reasoning = request.reasoning
        self._hides_reasoning = reasoning is not None and bool(reasoning.exclude)
        self._writer: ChunkWriter | None = None  # the stream's chunks, once it has an identity

    @property
    def label(self) -> str:
        return self.request.model or ",".join(self.request.models or ())

    def plan(self, catalog: Catalog, credentials: Credentials, health: HealthBoard,
             rng: random.Random | None = None) -> list[Candidate]:
        return plan(self.conversation, self.model_ids, self.provider, self.size, catalog, credentials, health, rng)

    def quote(self, candidate: Candidate) -> Quote:
        return quote(self.conversation, self.size, [candidate.endpoint])

    def shows(self, event: StreamEvent) -> bool:
        """`reasoning.exclude`: the model still reasons (and bills for it), the client does not see it."""
        return not (self._hides_reasoning and isinstance(event, ReasoningDelta))

    def price(self, usage: TokenUsage, reported: TokenUsage, images: int, endpoint: EndpointSpec) -> Priced:
        return token_priced_images(usage, reported, images, endpoint)

    async def _call(self, candidate: Candidate, stream: bool) -> tuple[WireAdapter, UpstreamCall]:
        """The adapter and the request as it can take it: image URLs fetched (once) when it needs bytes."""
        adapter = adapter_for(candidate.host.spec.wire_format)
        request = self.conversation
        if adapter.needs_image_bytes:
            if self._inlined is None:
                self._inlined = await inline_remote_images(request)
            request = self._inlined
        return adapter, UpstreamCall(request, candidate.endpoint, candidate.host, candidate.supported_parameters,
                                     stream)

    async def attempt(self, candidate: Candidate) -> list[StreamEvent]:
        adapter, call = await self._call(candidate, stream=False)
        provider = candidate.host.spec.name
        body = await transport.send(adapter.build_request(call), adapter, provider,
                                    transport.timeout_for(candidate.host.spec))
        return parsed(provider, adapter.parse_response, body, call)

    def outcome(self, result: list[StreamEvent]) -> tuple[Sequence[StreamEvent], int]:
        return result, 0  # generated images are events (ImageDelta): the books count them as they come

    async def answer(self, result: list[StreamEvent], receipt: Receipt) -> bytes:
        return completion_bytes(receipt.identity(), receipt.produced, receipt.usage, receipt.cost)

    async def open(self, candidate: Candidate) -> Opened[list[StreamEvent]]:
        adapter, call = await self._call(candidate, stream=True)
        stack, pieces = await transport.open_held(adapter.build_request(call), adapter, call.host.spec.name,
                                                  transport.timeout_for(call.host.spec))
        return stack, decoded_batches(pieces, adapter.stream_decoder(call))

    def events(self, piece: list[StreamEvent]) -> Sequence[StreamEvent]:
        return piece

    def chunk(self, identity: Identity, piece: list[StreamEvent], first: bool) -> bytes | None:
        shown = [e for e in piece if self.shows(e)] if self._hides_reasoning else piece
        return self._chunks(identity).events(shown, first) or None

    def ending(self, identity: Identity, usage: TokenUsage, cost: Decimal,
               error: GatewayError | None) -> list[bytes]:
        writer = self._chunks(identity)
        closing = [writer.error(error)] if error is not None else []
        return [*closing, writer.usage(usage, cost)]

    def _chunks(self, identity: Identity) -> ChunkWriter:
        if self._writer is None:
            self._writer = ChunkWriter(identity)
        return self._writer
