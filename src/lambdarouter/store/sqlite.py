"""The embedded store for local runs: one SQLite file (WAL), safe across threads of one process."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

from lambdarouter.store import GenerationRecord, KeyRecord, hash_key, key_label, new_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at REAL NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS generations (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS generations_by_key ON generations (key_hash, created_at);
"""


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def create_key(self, name: str) -> tuple[str, KeyRecord]:
        plaintext = new_key()
        record = KeyRecord(hash_key(plaintext), name, key_label(plaintext), time.time())
        with self._lock:
            self._db.execute(
                "INSERT INTO keys (hash, name, label, created_at) VALUES (?, ?, ?, ?)",
                (record.hash, record.name, record.label, record.created_at),
            )
        return plaintext, record

    def find_key(self, key_hash: str) -> KeyRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT hash, name, label, created_at, disabled FROM keys WHERE hash = ?", (key_hash,)
            ).fetchone()
        return _key(row) if row else None

    def list_keys(self) -> list[KeyRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT hash, name, label, created_at, disabled FROM keys ORDER BY created_at"
            ).fetchall()
        return [_key(row) for row in rows]

    def has_keys(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM keys LIMIT 1").fetchone() is not None

    def record_generation(self, record: GenerationRecord) -> None:
        # INSERT OR IGNORE: a retried write of the same generation never records it twice.
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO generations (id, key_hash, created_at, record) VALUES (?, ?, ?, ?)",
                (record.id, record.key_hash, record.created_at, _encode(record)),
            )

    def get_generation(self, generation_id: str) -> GenerationRecord | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM generations WHERE id = ?", (generation_id,)).fetchone()
        return _decode(row[0]) if row else None


def _key(row: tuple[str, str, str, float, int]) -> KeyRecord:
    return KeyRecord(row[0], row[1], row[2], row[3], bool(row[4]))


def _encode(record: GenerationRecord) -> str:
    fields = dataclasses.asdict(record)
    fields["cost"] = str(record.cost)
    return json.dumps(fields)


def _decode(text: str) -> GenerationRecord:
    fields = json.loads(text)
    fields["cost"] = Decimal(fields["cost"])
    fields["attempts"] = tuple(tuple(a) for a in fields["attempts"])
    return GenerationRecord(**fields)
