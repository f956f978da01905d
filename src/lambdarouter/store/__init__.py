"""Persistence behind four focused protocols (store/protocols.py): keys (hashed) with budgets and rate
windows, the ledger with its usage aggregates, idempotency records, endpoint health.

Two implementations keep one behaviour (held to one contract suite, tests/test_store_contract.py): the
embedded SQLite store for `lambdarouter serve`, and DynamoDB on AWS. Every money operation is atomic on
both: SQLite in one `BEGIN IMMEDIATE` transaction, DynamoDB as one conditional update (or one transaction
where the ledger row, the key's counters and the aggregates must change together).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from lambdarouter.store.errors import InvalidCursor, StoreUnavailable
from lambdarouter.store.keymaterial import KEY_PREFIX, hash_key, key_label, new_key, same_hash
from lambdarouter.store.model import (
    LIMIT_RESETS,
    GenerationPage,
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
from lambdarouter.store.protocols import (
    IDEMPOTENCY_IN_PROGRESS_TTL,
    IDEMPOTENCY_TTL,
    HealthStore,
    IdempotencyStore,
    KeyStore,
    Ledger,
    Store,
)

if TYPE_CHECKING:
    from lambdarouter.core.config import Settings

__all__ = [
    "IDEMPOTENCY_IN_PROGRESS_TTL", "IDEMPOTENCY_TTL", "KEY_PREFIX", "LIMIT_RESETS", "GenerationPage",
    "GenerationRecord", "HealthStore", "Hold", "IdempotencyClaim", "IdempotencyStore", "InvalidCursor", "KeyRecord",
    "KeySettings", "KeyStore", "Ledger", "LimitReset", "RateDecision", "RateLimit", "ReserveResult", "Store",
    "StoreUnavailable", "StoredResponse", "hash_key", "key_label", "new_key", "open_store", "period_start",
    "same_hash", "shared_store",
]

def totals(records: Sequence[KeyRecord]) -> tuple[Decimal, Decimal]:
    """(sum of limits, sum of usage) over keys: what GET /credits reports (each key's all-time usage is a
    counter kept at settle, so no ledger row is read)."""
    return (sum((r.limit for r in records if r.limit is not None), Decimal(0)),
            sum((r.usage for r in records), Decimal(0)))


def open_store(settings: Settings | None = None) -> Store:
    """DynamoDB when the keys and usage tables are named, else the SQLite file at LAMBDAROUTER_DB."""
    from lambdarouter.core.config import Settings

    settings = settings or Settings.from_env()
    if settings.keys_table and settings.usage_table:
        from lambdarouter.store.dynamodb import DynamoDBStore

        if not settings.summary_table:  # a 503 on a route, a message from the CLI: never a settle that fails later
            raise StoreUnavailable("LAMBDAROUTER_SUMMARY_TABLE is not set: the DynamoDB store keeps its usage "
                                   "aggregates there (template.yaml sets it; `lambdarouter store init` creates it)")
        return DynamoDBStore(settings.keys_table, settings.usage_table, settings.summary_table,
                             settings.idempotency_table)
    from lambdarouter.store.sqlite import SQLiteStore

    return SQLiteStore(settings.db_path)


@cache
def shared_store() -> Store:
    """The process-wide store (warm invocations and every route of one process share it)."""
    return open_store()


def describe(settings: Settings) -> str:
    if settings.keys_table and settings.usage_table:
        endpoint = settings.dynamodb_endpoint
        return f"DynamoDB {settings.keys_table}, {settings.usage_table}" + (f" at {endpoint}" if endpoint else "")
    return f"SQLite {settings.db_path}"
