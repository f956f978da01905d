"""The books of one generation, from admission to its one ledger row.

A `Generation` keeps what one admitted request did (who served it, its attempts, every event it counted) and
closes its books once: usage as reported (estimated where the provider never said), priced by its operation,
bounded by the reservation (`pricing.bounded`). `Books.close` writes the row and settles the hold to that
same cost, whatever ended the generation: an answer, an upstream failure, a stream cut short, a client gone.
(`Books` is the gateway's side of the accounting; the store's `Ledger` protocol, store/protocols.py, is where
the rows are kept.)
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Literal

import anyio
from msgspec import Struct, field

from lambdarouter.core.budget import PromptSize, Quote, fill_usage
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent, TokenUsage
from lambdarouter.core.health import HealthBoard
from lambdarouter.core.pricing import bounded
from lambdarouter.core.routing import Candidate
from lambdarouter.dialects.openrouter.assemble import Accumulator, Identity
from lambdarouter.gateway.operation import Operation, Receipt
from lambdarouter.store import GenerationRecord, Hold, KeyRecord, Store
from lambdarouter.store.codec import encode_generation

logger = logging.getLogger(__name__)
Status = Literal["success", "error", "aborted"]
# Ledger writes: tried this many times, sleeping between tries; then logged in full (never dropped silently).
SETTLE_BACKOFF = (0.05, 0.2, 0.8)


def new_generation_id() -> str:
    return f"gen-{int(time.time())}-{secrets.token_urlsafe(15)}"


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


class Generation(Struct):
    """The bookkeeping of one admitted request, from arrival to its ledger record."""

    id: str
    key: KeyRecord
    operation: Operation[Any, Any]
    streamed: bool
    candidates: list[Candidate]
    # Each candidate's quote, in `candidates`' order, as admission reserved the dearest of them: the served one's
    # is the ceiling of its charge, taken from here rather than quoted a second time.
    quotes: list[Quote] = field(default_factory=list)
    hold: Hold | None = None
    headers: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    created: int = field(default_factory=lambda: int(time.time()))
    served_by: Candidate | None = None
    first_token_ms: int | None = None
    attempts: list[tuple[str, int, int]] = field(default_factory=list)
    acc: Accumulator = field(default_factory=Accumulator)
    images: int = 0  # images an operation produced apart from image events (an image API's)
    finished: bool = False
    priced_as: bool | None = None  # the `charged` its books were last closed with (None: not yet)
    # Final once finished: what the ledger and the client both get.
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: Decimal = Decimal(0)
    estimated: bool = False
    anomaly: str | None = None

    @property
    def size(self) -> PromptSize:
        return self.operation.size

    def identity(self) -> Identity:
        served = self.served_by
        return Identity(self.id, self.created, served.model.id if served else "",
                        served.provider_name if served else "")

    def count(self, events: Iterable[StreamEvent]) -> list[StreamEvent]:
        """Add what the client sees of `events` to the books; those events."""
        shows, add = self.operation.shows, self.acc.add
        shown = [event for event in events if shows(event)]
        for event in shown:
            add(event)
        return shown

    def server_timing(self) -> str:
        """`Server-Timing`: time in the upstream's answering attempt vs everything else so far."""
        total = (time.monotonic() - self.started) * 1000
        upstream = float(self.attempts[-1][2]) if self.attempts else 0.0
        return f"gateway;dur={max(total - upstream, 0.0):.1f}, upstream;dur={upstream:.1f}"

    def tokens_per_second(self) -> float | None:
        """Output speed after the first token, when both ends are known."""
        if self.first_token_ms is None or not self.usage.completion_tokens:
            return None
        seconds = (time.monotonic() - self.started) - self.first_token_ms / 1000
        return self.usage.completion_tokens / seconds if seconds > 0.001 else None

    def mark_first_token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = _ms(self.started)

    def close_books(self, charged: bool = True) -> None:
        """Fix the usage and cost: the provider's report, completed by estimates where it never came, priced by
        the operation and bounded by what was reserved. Not `charged` (the client was told an error, not a
        cost): the usage is kept for the record and nothing is booked."""
        self.usage, self.cost, self.anomaly, self.priced_as = self.acc.usage, Decimal(0), None, charged
        served = self.served_by
        if served is None:
            return  # no endpoint answered: nothing was produced, nothing is charged
        acc = self.acc
        pieces = [*acc.text, *acc.refusal, *acc.reasoning, *(a for p in acc.tool_calls.values() for a in p.arguments)]
        filled = fill_usage(self.usage, self.size, sum(len(p) for p in pieces), len(pieces))
        priced = self.operation.price(filled or self.usage, acc.usage, self.images + len(acc.images), served.endpoint)
        self.usage, self.estimated = priced.usage, filled is not None or priced.estimated
        if not charged:
            return
        charge = bounded(priced.cost, self.quote_of(served).amount)
        self.cost, self.anomaly = charge.cost, charge.anomaly

    def quote_of(self, candidate: Candidate) -> Quote:
        """The candidate's quote as admission computed it (quoted now only for one admission never saw)."""
        for known, quote in zip(self.candidates, self.quotes, strict=False):
            if known is candidate:
                return quote
        return self.operation.quote(candidate)

    def receipt(self) -> Receipt:
        assert self.served_by is not None, "a receipt is for a generation an endpoint answered"
        return Receipt(self.id, self.created, self.served_by, self.usage, self.cost, self.acc)

    def record(self, status: Status, error: GatewayError | None) -> GenerationRecord:
        usage, finish, served = self.usage, self.acc.finish, self.served_by
        return GenerationRecord(
            id=self.id, key_hash=self.key.hash, created_at=float(self.created), model_requested=self.operation.label,
            model=served.model.id if served else None, provider=served.endpoint.host if served else None,
            streamed=self.streamed, status=status,
            finish_reason=finish.reason if finish else None, native_finish_reason=finish.native if finish else None,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens, cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens, cost=self.cost, latency_ms=_ms(self.started),
            first_token_ms=self.first_token_ms, attempts=tuple(self.attempts),
            error=error.message if error else None, num_media_prompt=self.size.images,
            num_media_completion=self.images + len(self.acc.images), usage_estimated=self.estimated,
            upstream_id=self.acc.upstream_id, anomaly=self.anomaly,
            cache_write_1h_tokens=usage.cache_write_1h_tokens, web_search_requests=usage.web_search_requests,
            web_fetch_requests=usage.web_fetch_requests,
        )


class Books:
    """Closes generations' books: the ledger row and the settled hold, then endpoint health and observers."""

    def __init__(self, store: Store, health: HealthBoard) -> None:
        self.store = store
        self.health = health
        # Called with every ledger record once it is written (metrics); they must not raise.
        self.observers: list[Callable[[GenerationRecord], None]] = []
        self._background: set[asyncio.Task[None]] = set()

    async def close(self, generation: Generation, status: Status, error: GatewayError | None) -> None:
        """Close the books once: the ledger row and the settled hold, then endpoint health and observers. Only a
        success or a stream (whose last chunk tells what it cost) is charged: a client told an error is not."""
        if generation.finished:
            return
        generation.finished = True
        charged = status == "success" or generation.streamed
        try:
            if generation.priced_as is not charged:  # a non-streamed answer's books were closed before it was sent
                generation.close_books(charged=charged)
        except Exception:  # a fault of the gateway's own: the row is still written and the hold released
            logger.exception("the books of %s could not be priced; recorded at no cost", generation.id)
            generation.cost, generation.anomaly = Decimal(0), None
        record = generation.record(status, error)
        if record.anomaly is not None:
            logger.warning("usage anomaly in %s from %s: %s", record.id, record.provider, record.anomaly)
        await self._write(record, generation.hold)
        try:
            self._observe(generation, record, error)
        except Exception:  # health and metrics are advisory: they never undo what the books say
            logger.exception("observing %s failed", record.id)

    async def _write(self, record: GenerationRecord, hold: Hold | None) -> None:
        """The ledger row and the settled hold, retried; logged in full if every try failed (never dropped
        silently). Shielded: a client that hung up cancels the request, never its accounting."""
        with anyio.CancelScope(shield=True):
            for attempt, pause in enumerate((*SETTLE_BACKOFF, None), start=1):
                try:
                    await self.store.settle(record, hold, time.time())
                    return
                except Exception:
                    logger.warning("ledger write for %s failed (attempt %d)", record.id, attempt, exc_info=True)
                if pause is not None:
                    await anyio.sleep(pause)
        logger.error("LEDGER WRITE LOST for %s after %d attempts; record: %s", record.id, len(SETTLE_BACKOFF) + 1,
                     encode_generation(record))

    def _observe(self, generation: Generation, record: GenerationRecord, error: GatewayError | None) -> None:
        """After the books are closed: endpoint health, observers (metrics), and a health sync when due."""
        served = generation.served_by
        if served is not None:
            if error is not None and error.endpoint_fault:
                self.health.record_failure(served.key)  # failed after its first byte
            elif record.status == "success":
                self.health.record_speed(served.key, record.first_token_ms, generation.tokens_per_second())
        for observer in self.observers:
            try:
                observer(record)
            except Exception:
                logger.exception("observer failed for %s", record.id)
        if self.health.sync_due():
            self.health.last_sync = time.monotonic()  # one sync in flight at a time
            task = asyncio.get_running_loop().create_task(self._sync_health())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _sync_health(self) -> None:
        """Share endpoint health with other instances, off the request path (a background task)."""
        try:
            remote = await self.store.load_health()
            self.health.merge(remote)
            await self.store.save_health(self.health.snapshot())
        except Exception:  # advisory data: a failed sync only delays sharing
            logger.warning("endpoint health sync failed", exc_info=True)
