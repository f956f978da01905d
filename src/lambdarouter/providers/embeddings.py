"""The seam between the service and the embedding adapters (one per provider family that has one).

Like the chat adapters these are pure translation: one batch of inputs → `HttpRequest`, response bytes →
vectors and token count, error response → `GatewayError`. `transport` sends; the service splits inputs
into batches of at most `batch_limit` and reassembles the vectors in input order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from msgspec import Struct

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.base import HttpRequest


class EmbeddingBatch(Struct, frozen=True):
    """One upstream call's worth of inputs: strings, or token arrays where the format takes them."""

    texts: list[str] | None
    tokens: list[list[int]] | None
    dimensions: int | None
    endpoint: EndpointSpec
    host: ResolvedHost

    @property
    def size(self) -> int:
        return len(self.texts if self.texts is not None else self.tokens or [])


class EmbeddingResult(Struct, frozen=True):
    vectors: list[list[float]]
    prompt_tokens: int  # 0 when the provider does not say (the service then estimates)


class EmbeddingAdapter(Protocol):
    takes_tokens: bool  # whether token arrays may be sent as they are

    def batch_limit(self, endpoint: EndpointSpec) -> int: ...

    def build_request(self, batch: EmbeddingBatch) -> HttpRequest: ...

    def parse_response(self, body: bytes, batch: EmbeddingBatch) -> EmbeddingResult: ...

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...


def check_count(result: EmbeddingResult, batch: EmbeddingBatch, provider: str) -> EmbeddingResult:
    """An answer with another number of vectors than inputs cannot be reassembled: an upstream fault."""
    if len(result.vectors) != batch.size:
        raise GatewayError(502, f"{provider} returned {len(result.vectors)} embeddings for {batch.size} inputs.",
                           metadata={"provider_name": provider}, retryable=True, origin="upstream")
    return result
