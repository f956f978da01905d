"""The seam for requests beside chat (embeddings, images, legacy completions) into the service.

An `Operation` says which models it names, which output modality serves it, what it may cost at worst and
how one candidate endpoint answers it; `Gateway.operate` wraps it in the same admission (403, 429, 402),
failover and one ledger row with a settled hold that chat requests get, so the accounting is never
duplicated per operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from lambdarouter.budget import PromptSize
from lambdarouter.providers.events import TokenUsage
from lambdarouter.routing import Candidate
from lambdarouter.schemas.chat import ProviderPreferences

R = TypeVar("R")


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

    def outcome(self, result: R) -> tuple[TokenUsage, int]:
        """What the answer is charged for: its token usage and the number of images produced."""
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
