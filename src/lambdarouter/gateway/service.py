"""The one use case every request goes through: authenticate → admit → route → call → settle.

Every operation (chat, legacy completions, embeddings, images) runs through `run` (one answer) or `run_stream`
(a stream). Admission refuses before any upstream call: a model the key may not use (403), a full rate window
(429), a worst case the key cannot afford (402). An admitted request holds its worst-case cost; whatever happens
afterwards (answer, upstream failure, a stream cut short, a client gone) ends in exactly one `Books.close`,
which writes the ledger row and settles the hold to the same `Decimal` the client is told in `usage.cost`.
Fallback wraps the adapters from here: candidate endpoints are tried in order until one answers, before any
byte reached the client — for a stream, until its first piece was read and found sound.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from typing import Any, TypeVar

import anyio
from msgspec import Struct

from lambdarouter.core.budget import insufficient_credits
from lambdarouter.core.catalog import Catalog
from lambdarouter.core.credentials import Credentials
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.health import HealthBoard
from lambdarouter.core.routing import Candidate
from lambdarouter.gateway.auth import authenticate_key
from lambdarouter.gateway.books import Books, Generation, Status, new_generation_id
from lambdarouter.gateway.fallback import RetryPolicy, first_answer
from lambdarouter.gateway.operation import Done, Operation, StreamingOperation
from lambdarouter.gateway.ratelimit import rate_headers, rate_limited
from lambdarouter.gateway.relay import STREAM_LIMIT_SECONDS, Relay, time_limit_error
from lambdarouter.gateway.upstream import UpstreamStream, secrets_of
from lambdarouter.store import GenerationRecord, Hold, KeyRecord, Store

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")
P = TypeVar("P")
C = TypeVar("C")
Opened = tuple[AsyncExitStack, UpstreamStream[Any]]

# A hold outlives the longest a request may run by this much; an orphaned hold (a function killed mid-request)
# is released after that.
HOLD_SLACK_SECONDS = 5 * 60.0
READ_TIMEOUT_SECONDS = 300.0  # LAMBDAROUTER_READ_TIMEOUT's default (core/config.py)


class Streamed(Struct, frozen=True):
    id: str
    relay: Relay[Any, Any]
    headers: dict[str, str]


class Gateway:
    def __init__(self, catalog: Catalog, store: Store, credentials: Credentials, *,
                 retry_policy: RetryPolicy | None = None, health: HealthBoard | None = None,
                 stream_limit: float = STREAM_LIMIT_SECONDS, read_timeout: float = READ_TIMEOUT_SECONDS) -> None:
        self.catalog = catalog
        self.store = store
        self.credentials = credentials
        self.retry_policy = retry_policy or RetryPolicy()
        self.health = health or HealthBoard()
        self.stream_limit = stream_limit
        # The longest silence a stream may keep before the transport gives up on it: the default's, or a host's own.
        self.longest_read = max([read_timeout, *(h.read_timeout for h in catalog.hosts.values() if h.read_timeout)])
        self.books = Books(store, self.health)

    @property
    def observers(self) -> list[Callable[[GenerationRecord], None]]:
        """Called with every ledger record once it is written (metrics); they must not raise."""
        return self.books.observers

    @property
    def hold_seconds(self) -> float:
        """How long a hold lasts: past the longest a request may take (the deadline to an answer; a stream's limit
        and the one silent read that may end it), so that it is never released before its generation is booked."""
        longest = max(self.retry_policy.deadline_seconds, self.stream_limit + self.longest_read)
        return longest + HOLD_SLACK_SECONDS

    async def authenticate(self, authorization: str | None) -> KeyRecord:
        """The calling key: 401 when missing, unknown, disabled or expired."""
        return await authenticate_key(self.store, authorization, time.time())

    async def run(self, operation: Operation[R, A], key: KeyRecord) -> Done[A]:
        """One answer: admitted, failed over, answered, and booked at the cost the answer tells."""
        generation = await self._admit(operation, key, streamed=False)
        async with self._closed_on_failure(generation):
            result = await self._first_answer(generation, operation.attempt)
            events, generation.images = operation.outcome(result)
            generation.count(events)
            generation.mark_first_token()
            generation.close_books()
            answer = await operation.answer(result, generation.receipt())
        await self.books.close(generation, "success", None)
        return Done(generation.id, answer, generation.headers)

    async def run_stream(self, operation: StreamingOperation[R, A, P, C], key: KeyRecord) -> Streamed:
        """Opens the upstream stream and reads its first piece; errors raise here, before the client got a byte,
        so that another endpoint can be tried."""
        generation = await self._admit(operation, key, streamed=True)

        async def opened(candidate: Candidate) -> Opened:
            stack, pieces = await operation.open(candidate)
            return stack, UpstreamStream(pieces, candidate)

        async def sound(_: Candidate, stream: Opened) -> Opened:
            """The first piece read, within the stream's time limit; the stream closed when it fails."""
            stack, pieces = stream
            try:
                with anyio.fail_after(max(generation.started + self.stream_limit - time.monotonic(), 0.0)):
                    await pieces.peek()
            except BaseException as exc:
                with anyio.CancelScope(shield=True):
                    await stack.aclose()
                if isinstance(exc, TimeoutError):
                    raise time_limit_error(self.stream_limit) from None
                raise
            return stream

        async with self._closed_on_failure(generation):
            stack, pieces = await self._first_answer(generation, opened, sound)
        relay = Relay(self.books, generation, stack, pieces, operation, self.stream_limit)
        return Streamed(generation.id, relay, generation.headers)

    @asynccontextmanager
    async def _closed_on_failure(self, generation: Generation) -> AsyncIterator[None]:
        """Whatever fails before the answer is handed on (no endpoint, a failed attempt, a client gone) still
        ends in the generation's one ledger row and settled hold."""
        try:
            yield
        except BaseException as exc:
            status: Status = "error" if isinstance(exc, Exception) else "aborted"  # cancelled: the client left
            await self.books.close(generation, status, exc if isinstance(exc, GatewayError) else None)
            raise

    async def _admit(self, operation: Operation[Any, Any], key: KeyRecord, streamed: bool) -> Generation:
        """Allowed model (403), routable (400/404/503), rate window (429), affordable (402) — in that order."""
        self._check_allowed(operation.model_ids, key)
        candidates = operation.plan(self.catalog, self.credentials, self.health)
        generation = Generation(new_generation_id(), key, operation, streamed, candidates)
        await self._rate(generation)
        generation.quotes = [operation.quote(c) for c in candidates]
        worst = max(generation.quotes, key=lambda quote: quote.amount)
        if (available := await self._reserve(generation, worst.amount)) is not None:
            raise insufficient_credits(worst, available)
        return generation

    def _check_allowed(self, model_ids: list[str], key: KeyRecord) -> None:
        for requested in model_ids:
            canonical = self.catalog.resolve(requested).model.id
            if not key.allows_model(requested, canonical):
                raise GatewayError(403, f"This key may not use {requested}.")

    async def _rate(self, generation: Generation) -> None:
        """Count the request in the key's rate window; 429 when it is full."""
        key = generation.key
        if key.rate_limit is not None:
            decision = await self.store.hit_rate_window(key.hash, key.rate_limit, time.time())
            if not decision.allowed:
                raise rate_limited(decision, time.time())
            generation.headers.update(rate_headers(decision))

    async def _reserve(self, generation: Generation, worst: Decimal) -> Decimal | None:
        """Hold the worst case against the key's limit: None when held (or unlimited), else what is left."""
        key = generation.key
        if key.limit is None:
            return None
        hold = Hold(generation.id, worst, time.time() + self.hold_seconds)
        result = await self.store.reserve(key, hold, time.time())
        if not result.ok:
            return result.available
        generation.hold = hold
        return None

    async def _first_answer(self, generation: Generation, attempt: Callable[[Candidate], Awaitable[T]],
                            confirm: Callable[[Candidate, T], Awaitable[T]] | None = None) -> T:
        """The first candidate's answer, with failover and retries wrapped around the adapters."""
        async def redacted(candidate: Candidate) -> T:
            try:
                return await attempt(candidate)
            except GatewayError as exc:  # before anything renders or records it
                raise exc.redact(secrets_of(candidate)) from None

        served, result = await first_answer(generation.candidates, redacted, generation.attempts, self.health,
                                            self.retry_policy, confirm=confirm)
        generation.served_by = served
        generation.headers["server-timing"] = generation.server_timing()
        return result
