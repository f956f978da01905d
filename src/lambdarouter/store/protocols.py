"""The store's seams: four focused protocols, async, each implemented by SQLite and by DynamoDB.

Callers type against the one they use (authentication needs `KeyStore`, the idempotency wrapper
`IdempotencyStore`, the reports `Ledger`); the gateway holds a `Store`, which is all four. Every method
raises `StoreUnavailable` (store/errors.py) when the database fails, and nothing else of the database's.
Where each call runs (the event loop or a worker thread) is the implementation's choice (store/calls.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from lambdarouter.store.model import (
    GenerationPage,
    GenerationRecord,
    Hold,
    IdempotencyClaim,
    KeyRecord,
    KeySettings,
    RateDecision,
    RateLimit,
    ReserveResult,
    StoredResponse,
)
from lambdarouter.store.summary import UsageRow

# Idempotency records: replayable for a day; an in-progress claim outlives any request (Lambda's 15 min).
IDEMPOTENCY_TTL = 24 * 3600
IDEMPOTENCY_IN_PROGRESS_TTL = 15 * 60


class KeyStore(Protocol):
    """Gateway keys (hashed) with their settings, budget counters, holds and rate window."""

    async def create_key(self, name: str, settings: KeySettings | None = None) -> tuple[str, KeyRecord]:
        """Store a new key; the plaintext is returned once and never stored."""
        ...

    async def find_key(self, key_hash: str) -> KeyRecord | None: ...

    async def list_keys(self, offset: int = 0, limit: int | None = None) -> list[KeyRecord]:
        """Oldest first."""
        ...

    async def has_keys(self) -> bool: ...

    async def update_key(self, key_hash: str, changes: Mapping[str, Any], now: float) -> KeyRecord | None:
        """Apply operator changes (`KeySettings` field names; None clears); None when the key is gone.
        ValueError for a change that is not a setting."""
        ...

    async def delete_key(self, key_hash: str) -> bool: ...

    async def reserve(self, key: KeyRecord, hold: Hold, now: float) -> ReserveResult:
        """Set `hold.amount` aside if the key can afford it, atomically (resetting a finished period and
        releasing expired holds first). `key` is the key as read recently (its authentication): the
        store checks its current state itself, so a stale record never lets a key overspend."""
        ...

    async def hit_rate_window(self, key_hash: str, limit: RateLimit, now: float) -> RateDecision:
        """Count one request in the key's current fixed window, unless the window is full."""
        ...


class Ledger(Protocol):
    """One row per generation, the key's charge that goes with it, and the aggregates read from them."""

    async def settle(self, record: GenerationRecord, hold: Hold | None, now: float) -> bool:
        """Write the ledger row, charge `record.cost` to the key (releasing `hold`, if any) and count it in
        the usage aggregates, as one atomic change.

        Idempotent by generation id: False (and nothing changed) when the generation was already recorded.
        A hold that expired and was swept meanwhile is not added back twice; a key deleted meanwhile still
        gets its ledger row.
        """
        ...

    async def get_generation(self, generation_id: str) -> GenerationRecord | None: ...

    async def generations(self, key_hash: str | None, limit: int, cursor: str | None = None) -> GenerationPage:
        """The request log, newest first, `limit` rows at a time (every key's when key_hash is None);
        `cursor` is a page's `next_cursor` (InvalidCursor for anything else)."""
        ...

    async def usage(self, since: float, until: float, bucket: str) -> list[UsageRow]:
        """Every key's aggregates of `bucket` ("hour" or "day") whose bucket starts in [since, until), since
        rounded down to the bucket."""
        ...

    async def period_spend(self, key_hash: str, now: float) -> dict[str, Decimal]:
        """The key's spend in the current UTC day, week and month (`summary.period_spend`)."""
        ...


class IdempotencyStore(Protocol):
    async def claim_idempotency(self, scope: str, key: str, body_hash: str,
                                in_progress_ttl: float = IDEMPOTENCY_IN_PROGRESS_TTL) -> IdempotencyClaim:
        """Start work under (scope, key), or say why not: completed (with the response), in progress, or
        the key was used with another body."""
        ...

    async def complete_idempotency(self, scope: str, key: str, body_hash: str, response: StoredResponse) -> None: ...

    async def release_idempotency(self, scope: str, key: str, body_hash: str) -> None:
        """Forget an in-progress claim (the work failed; a retry may run again)."""
        ...


class HealthStore(Protocol):
    """Endpoint health shared across instances, read and written off the request path (lambdarouter.core.health)."""

    async def load_health(self) -> dict[str, dict[str, Any]]:
        """Every endpoint's last published stats, by endpoint key."""
        ...

    async def save_health(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        """Publish this instance's merged view; concurrent writers may overwrite each other (it is advisory)."""
        ...


class Store(KeyStore, Ledger, IdempotencyStore, HealthStore, Protocol):
    """All four: what a gateway process holds."""
