"""The seam for requests beside chat (embeddings, images, legacy completions) into the service.

An `Operation` says which models it names, which output modality serves it, what it may cost at worst and
how one candidate endpoint answers it; `Gateway.operate` wraps it in the same admission (403, 429, 402),
failover and one ledger row with a settled hold that chat requests get, so the accounting is never
duplicated per operation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from lambdarouter.core.budget import PromptSize
from lambdarouter.core.errors import bad_request
from lambdarouter.core.events import StreamEvent, TokenUsage
from lambdarouter.core.routing import Candidate
from lambdarouter.dialects.openrouter.chat import ProviderPreferences
from lambdarouter.gateway.relay import Renderer

R = TypeVar("R")
P = TypeVar("P")  # a streaming operation's pieces
C_co = TypeVar("C_co", covariant=True)  # the chunks it sends the client


class Operation(Protocol[R]):
    """A request beside chat (embeddings, images, ...), run through the same admission, failover and books."""

    model_ids: list[str]
    provider: ProviderPreferences | None
    output: str  # the output modality the serving model must have
    size: PromptSize

    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates that can take this request's parameters, or a 400 saying which one none takes."""
        ...

    def worst_case(self, candidate: Candidate) -> Decimal: ...

    async def attempt(self, candidate: Candidate) -> R: ...

    def outcome(self, result: R) -> tuple[Sequence[StreamEvent], int]:
        """What the answer is charged for: the events the books count, and the number of images produced.

        The events are its usage report and, for text, what was produced (text, finish): the books estimate
        a usage the provider never reported from those, as they do for chat, and record the finish reason."""
        ...


class StreamingOperation(Operation[R], Renderer[P, C_co], Protocol[R, P, C_co]):
    """An operation that also streams (legacy completions): each candidate opens a stream of its own pieces,
    which the relay counts and renders (`Renderer`) and books like a chat stream."""

    async def open(self, candidate: Candidate) -> tuple[AsyncExitStack, AsyncIterator[P]]:
        """The open upstream stream; errors raise here, before the client got a byte, so others can be tried."""
        ...


@dataclass(frozen=True, slots=True)
class Done(Generic[R]):
    """An operation's answer and its books: the result, what was charged and who served it."""

    id: str
    result: R
    usage: TokenUsage
    cost: Decimal
    served_by: Candidate
    headers: dict[str, str]


def keep_or_400(candidates: list[Candidate], refuse: Callable[[Candidate], str | None]) -> list[Candidate]:
    """The candidates `refuse` has nothing against; a 400 naming each one's reason when none is left."""
    kept = [c for c in candidates if refuse(c) is None]
    if not kept:
        reasons = (f"{c.model.id} via {c.endpoint.host} {refuse(c)}" for c in candidates)
        raise bad_request("; ".join(dict.fromkeys(reasons)) + ".")
    return kept
