"""The SQLite store's usage aggregates: ledger rows rolled into per-hour and per-day counters.

A settle only appends its ledger row (the request path pays nothing for the aggregates); before the
aggregates are read, the rows not yet counted are folded in, in ledger order. The ledger's rowids only
grow and commits are serialised by the database's write lock, so the committed rows always form a prefix
in rowid order and one number, the last rowid folded in, says exactly what the aggregates hold. It
changes in the same transaction as the counters, so a crash, a concurrent reader in another process or
a retry never counts a row twice or skips one. Each row is decoded once, ever: reads cost the aggregates
of the period asked, not the ledger.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager

from lambdarouter.store.codec import decode_counters, decode_generation, encode_counters
from lambdarouter.store.model import GenerationRecord
from lambdarouter.store.summary import UsageRow, bucket_start, summarize

SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_summary (
    bucket TEXT NOT NULL,
    start REAL NOT NULL,
    key_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    counters TEXT NOT NULL,
    PRIMARY KEY (bucket, start, key_hash, model, provider)
);
CREATE INDEX IF NOT EXISTS usage_summary_by_key ON usage_summary (bucket, key_hash, start);
CREATE TABLE IF NOT EXISTS summary_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_MARK = "SELECT value FROM summary_state WHERE name = 'rolled_up'"
_SET_MARK = ("INSERT INTO summary_state (name, value) VALUES ('rolled_up', ?) "
             "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
_NEW_ROWS = "SELECT rowid, record FROM generations WHERE rowid > ? ORDER BY rowid LIMIT ?"
_COUNTERS = ("SELECT counters FROM usage_summary WHERE bucket = ? AND start = ? AND key_hash = ? AND model = ? "
             "AND provider = ?")
_PUT = ("INSERT OR REPLACE INTO usage_summary (bucket, start, key_hash, model, provider, counters) "
        "VALUES (?, ?, ?, ?, ?, ?)")
_ROWS = "SELECT bucket, start, key_hash, model, provider, counters FROM usage_summary"
BATCH = 2000  # ledger rows decoded per transaction: the write lock is held only while their sums are added
# In the checkpointer's thread: small transactions, and the GIL handed to the event loop's thread every
# `SLICE_ROWS` rows decoded (`hand_over`), so the upkeep never holds the loop for long.
BACKGROUND_BATCH = 200
# Rows decoded and summed between two hand-overs: ~40 us each on this machine, so the loop's thread waits at most
# ~0.3 ms for the GIL instead of up to the interpreter's switch interval (5 ms). Without them a cycle's roll-up
# (~1,000 rows, every 1,000 commits) held the GIL in 5 ms turns, and the requests it overlapped were a third to a
# half of concurrency 1's slowest 1 % (docs/performance.md, "Concurrency 1").
SLICE_ROWS = 8
# Long enough for the waiting thread, woken when the GIL is released, to take it: a release followed at once by
# the same thread's re-acquire (a SQLite call, `time.sleep(0)`) usually wins the race against a thread still
# being woken, and the waiter goes back to waiting its switch interval.
HAND_OVER_SECONDS = 0.0002

Writing = Callable[[], AbstractContextManager[sqlite3.Connection]]


def _mark(db: sqlite3.Connection) -> int:
    row = db.execute(_MARK).fetchone()
    return int(row[0]) if row else 0


def hand_over() -> None:
    """Release the GIL long enough for a thread waiting for it (the event loop's) to take it."""
    time.sleep(HAND_OVER_SECONDS)


def roll_up(reader: sqlite3.Connection, writing: Writing, batch: int = BATCH,
            pause: Callable[[], object] | None = None) -> int:
    """Fold every ledger row not yet counted into the aggregates; returns how many were folded.

    `reader` reads the new rows outside the write lock; `writing()` is the store's write transaction,
    where the counters and the mark change together (or not at all, when another roll-up got there first).
    `pause`, when given, runs after every `SLICE_ROWS` rows decoded (outside the write lock): `hand_over` in a
    background thread.
    """
    folded = 0
    while True:
        mark = _mark(reader)
        rows = reader.execute(_NEW_ROWS, (mark, batch)).fetchall()
        if not rows:
            return folded
        increments = summarize(_decoded(rows, pause))
        with writing() as db:
            if _mark(db) != mark:
                continue  # another process or thread folded these meanwhile: read again from its mark
            for identity, counters in increments.items():
                found = db.execute(_COUNTERS, identity).fetchone()
                if found is not None:
                    counters.merge(decode_counters(found[0]))
                db.execute(_PUT, (*identity, encode_counters(counters)))
            db.execute(_SET_MARK, (rows[-1][0],))
        folded += len(rows)


def _decoded(rows: Sequence[tuple[int, str]], pause: Callable[[], object] | None) -> Iterator[GenerationRecord]:
    for index, (_, text) in enumerate(rows, 1):
        yield decode_generation(text)
        if pause is not None and index % SLICE_ROWS == 0:
            pause()


def _rows(cursor: Iterator[tuple[str, float, str, str, str, str]]) -> list[UsageRow]:
    return [UsageRow(bucket, start, key_hash, model, provider, decode_counters(counters))
            for bucket, start, key_hash, model, provider, counters in cursor]


def usage_rows(db: sqlite3.Connection, since: float, until: float, bucket: str) -> list[UsageRow]:
    return _rows(db.execute(_ROWS + " WHERE bucket = ? AND start >= ? AND start < ? ORDER BY start",
                            (bucket, bucket_start(bucket, since), until)))


def day_rows(db: sqlite3.Connection, key_hash: str, since: float) -> list[UsageRow]:
    return _rows(db.execute(_ROWS + " WHERE bucket = 'day' AND key_hash = ? AND start >= ?", (key_hash, since)))

