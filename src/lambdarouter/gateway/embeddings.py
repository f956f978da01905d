"""POST /embeddings as an `Operation`: inputs split into each provider's batches, vectors reassembled in
input order, base64 computed by the gateway, usage and cost from the catalog's per-token price.

`encoding_format: base64` is what OpenAI sends: the vector as little-endian float32, base64-encoded
(https://platform.openai.com/docs/api-reference/embeddings/create; the official SDKs decode it that way).
The gateway always asks providers for floats and encodes here, so every provider answers alike.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Sequence

from msgspec import Struct

from lambdarouter.core.budget import (
    BYTES_PER_TOKEN_RESERVED,
    CHARS_PER_TOKEN_CHARGED,
    TOKENS_PER_INPUT,
    PromptSize,
    Quote,
)
from lambdarouter.core.errors import bad_request
from lambdarouter.core.events import StreamEvent, TokenUsage, UsageReport
from lambdarouter.core.routing import Candidate
from lambdarouter.dialects.openrouter.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage
from lambdarouter.gateway.operation import Operation, Receipt
from lambdarouter.gateway.upstream import parsed
from lambdarouter.providers import transport
from lambdarouter.providers.common import malformed
from lambdarouter.providers.embeddings import EmbeddingBatch, check_count
from lambdarouter.providers.family import embedding_adapter_for

# Upstream calls in flight at once for one request (Titan takes one input per call).
CONCURRENT_BATCHES = 8


class Embedded(Struct, frozen=True):
    vectors: list[list[float]]
    prompt_tokens: int  # 0 when the provider did not say


def _size(texts: list[str] | None, tokens: list[list[int]] | None) -> PromptSize:
    if texts is not None:
        joined = "".join(texts)
        return PromptSize(len(joined.encode()), len(joined), 0, 0, TOKENS_PER_INPUT * len(texts))
    count = sum(len(t) for t in tokens or [])  # token arrays: reserve and charge exactly their length
    return PromptSize(count * BYTES_PER_TOKEN_RESERVED, count * CHARS_PER_TOKEN_CHARGED, 0, 0)


class EmbeddingOperation(Operation[Embedded, EmbeddingResponse]):
    output = "embeddings"

    def __init__(self, request: EmbeddingRequest) -> None:
        self.request = request
        self.model_ids = list(dict.fromkeys(([request.model] if request.model else []) + (request.models or [])))
        self.provider = request.provider
        self.texts = request.texts()
        self.tokens = request.token_arrays() if self.texts is None else None
        self.size = _size(self.texts, self.tokens)

    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        names = ", ".join(self.model_ids)
        if self.request.dimensions is not None:
            candidates = [c for c in candidates if "dimensions" in c.supported_parameters]
            if not candidates:
                raise bad_request(f"`dimensions` is not supported by {names}.")
        if self.tokens is not None:
            candidates = [c for c in candidates if embedding_adapter_for(c.host.spec.wire_format).takes_tokens]
            if not candidates:
                raise bad_request(f"Token-array input is not supported by the providers of {names}; send strings.")
        return candidates

    def quote(self, candidate: Candidate) -> Quote:
        worst = self.size.reserved_tokens * candidate.endpoint.prompt + candidate.endpoint.request
        return Quote(worst, worst)

    async def attempt(self, candidate: Candidate) -> Embedded:
        adapter = embedding_adapter_for(candidate.host.spec.wire_format)
        items: list[str] | list[list[int]] = self.texts if self.texts is not None else self.tokens or []
        step = adapter.batch_limit(candidate.endpoint)
        gate = asyncio.Semaphore(CONCURRENT_BATCHES)
        provider = candidate.host.spec.name

        async def one(start: int) -> Embedded:
            part = items[start:start + step]
            batch = EmbeddingBatch(part if self.texts is not None else None,  # type: ignore[arg-type]
                                   part if self.texts is None else None,  # type: ignore[arg-type]
                                   self.request.dimensions, candidate.endpoint, candidate.host)
            async with gate:
                body = await transport.send(adapter.build_request(batch), adapter, provider,
                                            transport.timeout_for(candidate.host.spec))
            result = check_count(parsed(provider, adapter.parse_response, body, batch), batch, provider)
            return Embedded(result.vectors, result.prompt_tokens)

        # gather keeps the batches' order, so vectors come back in input order.
        parts = await asyncio.gather(*(one(start) for start in range(0, len(items), step)))
        return Embedded([v for p in parts for v in p.vectors], sum(p.prompt_tokens for p in parts))

    def outcome(self, result: Embedded) -> tuple[Sequence[StreamEvent], int]:
        return [UsageReport(TokenUsage(prompt_tokens=result.prompt_tokens))], 0

    async def answer(self, result: Embedded, receipt: Receipt) -> EmbeddingResponse:
        encoding = self.request.encoding_format
        try:
            data = [Embedding(index=i, embedding=encode_base64(v) if encoding == "base64" else v)
                    for i, v in enumerate(result.vectors)]
        except (struct.error, OverflowError):  # a value no float32 holds: the provider's answer is wrong
            raise malformed("an embedding with values out of the float32 range",
                            receipt.served_by.endpoint.host) from None
        tokens = receipt.usage.prompt_tokens
        return EmbeddingResponse(id=receipt.id, data=data, model=receipt.served_by.model.id,
                                 provider=receipt.served_by.provider_name,
                                 usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens,
                                                      cost=float(receipt.cost)))


def encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
