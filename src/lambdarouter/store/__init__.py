"""Persistence behind one protocol: keys (hashed) with budgets and rate windows, the ledger, idempotency.

Two implementations keep one behaviour (held to one contract suite, tests/test_store_contract.py): the
embedded SQLite store for `lambdarouter serve`, and DynamoDB on AWS. Every money operation is atomic on
both: SQLite in one `BEGIN IMMEDIATE` transaction, DynamoDB as one conditional update (or one transaction
where the ledger row and the key's counters must change together).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import cache, partial
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from lambdarouter.store.model import (
    LIMIT_RESETS,
    GenerationRecord,
    Hold,
    IdempotencyClaim,
    KeyRecord,
    KeySettings,
    LimitReset,
    RateDecision,
    RateLimit,
    ReserveResult,
    StoredResponse,
    period_start,
)

if TYPE_CHECKING:
    from lambdarouter.core.config import Settings

__all__ = [
    "KEY_PREFIX", "LIMIT_RESETS", "GenerationRecord", "Hold", "IdempotencyClaim", "KeyRecord", "KeySettings",
    "LimitReset", "RateDecision", "RateLimit", "ReserveResult", "Store", "StoredResponse", "call_store", "hash_key",
    "key_label", "new_key", "open_store", "period_start", "same_hash", "shared_store",
]
P = ParamSpec("P")
T = TypeVar("T")

KEY_PREFIX = "sk-lr-v1-"
# Idempotency records: replayable for a day; an in-progress claim outlives any request (Lambda's 15 min).
IDEMPOTENCY_TTL = 24 * 3600
IDEMPOTENCY_IN_PROGRESS_TTL = 15 * 60


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def key_label(plaintext: str) -> str:
    """What may be shown of a key after creation: its prefix and last three characters."""
    return f"{plaintext[: len(KEY_PREFIX) + 3]}...{plaintext[-3:]}"


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Store(Protocol):
    # Whether a request-path call may run on the event loop: True when each call takes microseconds and
    # never waits on the network (SQLite), False when it is a network round trip (DynamoDB). See `call_store`.
    inline: bool

    # -- keys -------------------------------------------------------------------------------------------
    def create_key(self, name: str, settings: KeySettings | None = None) -> tuple[str, KeyRecord]:
        """Store a new key; the plaintext is returned once and never stored."""
        ...

    def find_key(self, key_hash: str) -> KeyRecord | None: ...

    def list_keys(self, offset: int = 0, limit: int | None = None) -> list[KeyRecord]:
        """Oldest first."""
        ...

    def has_keys(self) -> bool: ...

    def update_key(self, key_hash: str, changes: Mapping[str, Any], now: float) -> KeyRecord | None:
        """Apply operator changes (`KeySettings` field names; None clears); None when the key is gone."""
        ...

    def delete_key(self, key_hash: str) -> bool: ...

    # -- budget -----------------------------------------------------------------------------------------
    def reserve(self, key: KeyRecord, hold: Hold, now: float) -> ReserveResult:
        """Set `hold.amount` aside if the key can afford it, atomically (resetting a finished period and
        releasing expired holds first). `key` is the key as read recently (its authentication): the
        store checks its current state itself, so a stale record never lets a key overspend."""
        ...

    def settle(self, record: GenerationRecord, hold: Hold | None, now: float) -> bool:
        """Write the ledger row and charge `record.cost` (releasing `hold`), as one atomic change.

        Idempotent by generation id: False (and nothing changed) when the generation was already recorded.
        A hold that expired and was swept meanwhile is not added back twice.
        """
        ...

    # -- rate windows -----------------------------------------------------------------------------------
    def hit_rate_window(self, key_hash: str, limit: RateLimit, now: float) -> RateDecision:
        """Count one request in the key's current fixed window, unless the window is full."""
        ...

    # -- ledger -----------------------------------------------------------------------------------------
    def record_generation(self, record: GenerationRecord) -> bool:
        """`settle` without money (no hold; the cost is still added to the key's usage)."""
        ...

    def get_generation(self, generation_id: str) -> GenerationRecord | None: ...

    def query_generations(self, key_hash: str | None, since: float | None = None,
                          until: float | None = None) -> list[GenerationRecord]:
        """Generations with `since <= created_at < until`, oldest first; all keys when key_hash is None."""
        ...

    # -- idempotency ------------------------------------------------------------------------------------
    def claim_idempotency(self, scope: str, key: str, body_hash: str,
                          in_progress_ttl: float = IDEMPOTENCY_IN_PROGRESS_TTL) -> IdempotencyClaim:
        """Start work under (scope, key), or say why not: completed (with the response), in progress, or
        the key was used with another body."""
        ...

    def complete_idempotency(self, scope: str, key: str, body_hash: str, response: StoredResponse) -> None: ...

    def release_idempotency(self, scope: str, key: str, body_hash: str) -> None:
        """Forget an in-progress claim (the work failed; a retry may run again)."""
        ...

    # -- endpoint health (shared across instances, read and written off the request path) ---------------
    def load_health(self) -> dict[str, dict[str, Any]]:
        """Every endpoint's last published stats (see `lambdarouter.core.health`), by endpoint key."""
        ...

    def save_health(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        """Publish this instance's merged view; concurrent writers may overwrite each other (it is advisory)."""
        ...


async def call_store(store: Store, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one of `store`'s request-path methods from async code: on the event loop when the store is
    `inline`, else in a worker thread.

    A thread hop costs a handoff and, under load, GIL contention with the loop: more than a SQLite call
    itself (bench: -0.4 ms per request at concurrency 1, +45 % throughput). Calls that can take long over
    a big ledger (usage reports, pages of generations, key lists) keep to `anyio.to_thread` whatever the
    store, so that they never stall the loop.
    """
    if store.inline:
        return method(*args, **kwargs)
    import anyio.to_thread  # here, not at the top: the CLI imports the store without any event loop

    return await anyio.to_thread.run_sync(partial(method, *args, **kwargs))


def totals(records: Sequence[KeyRecord]) -> tuple[Decimal, Decimal]:
    """(sum of limits, sum of usage) over keys: what GET /credits reports."""
    return (sum((r.limit for r in records if r.limit is not None), Decimal(0)),
            sum((r.usage for r in records), Decimal(0)))


def open_store(settings: Settings | None = None) -> Store:
    """DynamoDB when both table variables are set, else the SQLite file at LAMBDAROUTER_DB."""
    from lambdarouter.core.config import Settings

    settings = settings or Settings.from_env()
    if settings.keys_table and settings.usage_table:
        from lambdarouter.store.dynamodb import DynamoDBStore

        return DynamoDBStore(settings.keys_table, settings.usage_table, settings.idempotency_table)
    from lambdarouter.store.sqlite import SQLiteStore

    return SQLiteStore(settings.db_path)


@cache
def shared_store() -> Store:
    """The process-wide store (warm invocations and every route of one process share it)."""
    return open_store()


def describe(settings: Settings) -> str:
    if settings.keys_table and settings.usage_table:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        return f"DynamoDB {settings.keys_table}, {settings.usage_table}" + (f" at {endpoint}" if endpoint else "")
    return f"SQLite {settings.db_path}"
