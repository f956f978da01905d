"""Persistence behind one protocol: gateway keys (hashed) and the generation ledger.

The embedded SQLite implementation serves `lambdarouter serve`; a DynamoDB one serves AWS. Both are
held to one contract test suite.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

KEY_PREFIX = "sk-lr-v1-"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def key_label(plaintext: str) -> str:
    """What may be shown of a key after creation: its prefix and last three characters."""
    return f"{plaintext[: len(KEY_PREFIX) + 3]}...{plaintext[-3:]}"


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True, slots=True)
class KeyRecord:
    hash: str
    name: str
    label: str
    created_at: float
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class GenerationRecord:
    """One ledger row per generation, written once, whatever happened."""

    id: str
    key_hash: str
    created_at: float
    model_requested: str
    model: str | None
    provider: str | None
    streamed: bool
    status: str  # "success" | "error" | "aborted"
    finish_reason: str | None
    native_finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost: Decimal
    latency_ms: int
    first_token_ms: int | None
    attempts: tuple[tuple[str, int, int], ...]  # (provider, status, latency ms) per attempt
    error: str | None = None


class Store(Protocol):
    def create_key(self, name: str) -> tuple[str, KeyRecord]:
        """Store a new key; the plaintext is returned once and never stored."""
        ...

    def find_key(self, key_hash: str) -> KeyRecord | None: ...

    def list_keys(self) -> list[KeyRecord]: ...

    def has_keys(self) -> bool: ...

    def record_generation(self, record: GenerationRecord) -> None: ...

    def get_generation(self, generation_id: str) -> GenerationRecord | None: ...


def open_store(db_path: Path) -> Store:
    from lambdarouter.store.sqlite import SQLiteStore

    return SQLiteStore(db_path)
