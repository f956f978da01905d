"""What the one use-case path runs: an `Operation` is one kind of request (chat, legacy completions,
embeddings, images; next, Anthropic Messages and OpenAI Responses).

`Gateway.run` / `run_stream` give every operation the same admission (403, 429, 402 and the reservation),
failover, one ledger row and a settled hold; an operation says only what is its own: which models it names
and which endpoints may serve it, what it may cost at worst on each, how one endpoint answers it, what the
books count of that answer, how it is priced, and what the client is sent. A streaming operation also says
how its stream is opened, counted and shown (`StreamingOperation`).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Generic, TypeVar

from msgspec import Struct

from lambdarouter.core.budget import PromptSize, Quote, fill_image_tokens
from lambdarouter.core.catalog import Catalog
from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.credentials import Credentials
from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.core.events import StreamEvent, TokenUsage
from lambdarouter.core.health import HealthBoard
from lambdarouter.core.pricing import generation_cost
from lambdarouter.core.routing import Candidate, plan_operation
from lambdarouter.dialects.openrouter.assemble import Accumulator, Identity
from lambdarouter.dialects.openrouter.preferences import ProviderPreferences

R = TypeVar("R")  # what one endpoint's answer is read into
A = TypeVar("A")  # what the client is answered
P = TypeVar("P")  # a streaming operation's pieces
C = TypeVar("C")  # the chunks it sends the client
Opened = tuple[AsyncExitStack, AsyncIterator[P]]


class Priced(Struct, frozen=True):
    """An answer's usage as charged (estimates filled in where the provider said nothing) and its cost."""

    usage: TokenUsage
    cost: Decimal
    estimated: bool = False


class Receipt(Struct, frozen=True):
    """What the books say of a generation once they are closed: what the client's answer reports."""

    id: str
    created: int
    served_by: Candidate
    usage: TokenUsage
    cost: Decimal
    produced: Accumulator  # every event the books counted

    def identity(self) -> Identity:
        return Identity(self.id, self.created, self.served_by.model.id, self.served_by.provider_name)


class Operation(ABC, Generic[R, A]):
    """One kind of request, as the use-case path runs it. The defaults are those of the operations beside chat:
    models named by `model_ids`, endpoints of models with the `output` modality, tokens at the catalog's prices."""

    model_ids: list[str]
    size: PromptSize  # what the prompt is estimated from, measured once
    output: str = "text"  # the output modality the serving model must have
    provider: ProviderPreferences | None = None

    @property
    def label(self) -> str:
        """The model(s) requested, as the ledger records them."""
        return ",".join(self.model_ids)

    def plan(self, catalog: Catalog, credentials: Credentials, health: HealthBoard,
             rng: random.Random | None = None) -> list[Candidate]:
        """Every endpoint that may serve this request, in the order they are tried (the context filter reads the
        likely prompt size, as chat's does, not the upper bound that is reserved)."""
        return self.narrow(plan_operation(self.model_ids, self.provider, self.output, self.size.charged_tokens,
                                          catalog, credentials, health, rng))

    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates that can take this request's parameters, or a 400 saying which one none takes."""
        return candidates

    @abstractmethod
    def quote(self, candidate: Candidate) -> Quote:
        """The most this request may cost on that endpoint: reserved before the call (the dearest candidate's),
        and the ceiling of what it is charged after it (`pricing.bounded`)."""

    @abstractmethod
    async def attempt(self, candidate: Candidate) -> R:
        """One endpoint's answer. What the provider sent is read through `upstream.parsed`, so that an answer
        the adapter cannot read is the provider's fault (a 502 another endpoint may answer), never a 500."""

    @abstractmethod
    def outcome(self, result: R) -> tuple[Sequence[StreamEvent], int]:
        """What the answer is charged for: the events the books count (its usage report and, for text, what
        was produced, from which a usage the provider never reported is estimated), and the number of images
        produced apart from image events (an image API's)."""

    @abstractmethod
    async def answer(self, result: R, receipt: Receipt) -> A:
        """The client's answer, built before the books close: if it cannot be built, the client is told an error
        and nothing is charged."""

    def shows(self, event: StreamEvent) -> bool:
        """Whether the client sees this event (chat's `reasoning.exclude` hides reasoning it still pays for)."""
        return True

    def price(self, usage: TokenUsage, reported: TokenUsage, images: int, endpoint: EndpointSpec) -> Priced:
        """`usage` (the report, completed by estimates) at this endpoint's prices; `reported` is the provider's
        own report and `images` the images produced."""
        return Priced(usage, generation_cost(usage, endpoint))


class StreamingOperation(Operation[R, A], Generic[R, A, P, C]):
    """An operation that also streams: each candidate opens a stream of the operation's own pieces, which the
    relay counts (`events`), shows (`chunk`) and closes (`ending`), and books like every generation."""

    @abstractmethod
    async def open(self, candidate: Candidate) -> Opened[P]:
        """The open upstream stream; errors raise here, before the client got a byte, so others can be tried."""

    @abstractmethod
    def events(self, piece: P) -> Sequence[StreamEvent]:
        """What the books count of one piece (text, finish, usage)."""

    @abstractmethod
    def chunk(self, identity: Identity, piece: P, first: bool) -> C | None:
        """The chunk that carries one piece to the client (None for what clients do not see)."""

    @abstractmethod
    def ending(self, identity: Identity, usage: TokenUsage, cost: Decimal, error: GatewayError | None) -> Sequence[C]:
        """The chunks after the last piece: the error (if the stream failed after its first byte), the usage."""


def token_priced_images(usage: TokenUsage, reported: TokenUsage, images: int, endpoint: EndpointSpec) -> Priced:
    """Generated images priced as output tokens (chat's, and Gemini's image models on /images/generations): their
    tokens estimated when the provider did not count them apart (`budget.fill_image_tokens`)."""
    counted = fill_image_tokens(usage, reported, images)
    usage = counted if counted is not None else usage
    return Priced(usage, generation_cost(usage, endpoint), estimated=counted is not None)


class Done(Struct, Generic[A], frozen=True):
    """A non-streamed generation's answer, once its books are closed."""

    id: str
    answer: A
    headers: dict[str, str]


def keep_or_400(candidates: list[Candidate], refuse: Callable[[Candidate], str | None]) -> list[Candidate]:
    """The candidates `refuse` has nothing against; a 400 naming each one's reason when none is left."""
    kept = [c for c in candidates if refuse(c) is None]
    if not kept:
        reasons = (f"{c.model.id} via {c.endpoint.host} {refuse(c)}" for c in candidates)
        raise bad_request("; ".join(dict.fromkeys(reasons)) + ".")
    return kept
