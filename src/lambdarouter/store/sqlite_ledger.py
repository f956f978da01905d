"""The SQLite ledger: settle (the row and the key's charge in one transaction) and the request log's pages.

Functions over a connection; the store (store/sqlite.py) owns the connections, the locks and the
transactions. Amounts are decimal text computed in Python: SQLite's numbers are binary floats.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from lambdarouter.store.codec import decode_generation, encode_generation
from lambdarouter.store.cursor import decode_cursor, encode_cursor
from lambdarouter.store.errors import InvalidCursor
from lambdarouter.store.model import GenerationPage, GenerationRecord, Hold

INSERT_GENERATION = "INSERT OR IGNORE INTO generations (id, key_hash, created_at, record) VALUES (?, ?, ?, ?)"
# The request log, newest first; (created_at, id) orders rows of the same second (ledger times are whole
# seconds) and is where the next page starts.
_LOG = "SELECT created_at, id, record FROM generations"
_OLDER = "created_at <= ? AND (created_at < ? OR id < ?)"
_NEWEST_FIRST = " ORDER BY created_at DESC, id DESC LIMIT ?"


def settle(db: sqlite3.Connection, record: GenerationRecord, hold: Hold | None) -> bool:
    """Inside a write transaction: the ledger row, then the key's charge (see store/model.py)."""
    inserted = db.execute(INSERT_GENERATION, (record.id, record.key_hash, record.created_at,
                                              encode_generation(record))).rowcount
    if not inserted:
        return False  # recorded before: the charge was made then
    row = db.execute("SELECT remaining, usage, period_usage FROM keys WHERE hash = ?", (record.key_hash,)).fetchone()
    if row is None:
        return True  # the key was deleted meanwhile: the ledger still has the row
    remaining = Decimal(row[0]) - record.cost
    # Still held (not swept as expired): give it back. The row holds `hold.amount` as reserve wrote it (decimal
    # text of the same Decimal), so the deleted row's count says all that is needed.
    if hold is not None and db.execute("DELETE FROM holds WHERE key_hash = ? AND id = ?",
                                       (record.key_hash, hold.id)).rowcount:
        remaining += hold.amount
    db.execute("UPDATE keys SET remaining = ?, usage = ?, period_usage = ? WHERE hash = ?",
               (str(remaining), str(Decimal(row[1]) + record.cost), str(Decimal(row[2]) + record.cost),
                record.key_hash))
    return True


def get(db: sqlite3.Connection, generation_id: str) -> GenerationRecord | None:
    row = db.execute("SELECT record FROM generations WHERE id = ?", (generation_id,)).fetchone()
    return decode_generation(row[0]) if row else None


def _position(cursor: str | None) -> tuple[float, str] | None:
    if cursor is None:
        return None
    position = decode_cursor(cursor)
    if not (isinstance(position, list) and len(position) == 2 and isinstance(position[0], int | float)
            and isinstance(position[1], str)):
        raise InvalidCursor("`cursor` is not one this API returned.")
    return float(position[0]), position[1]


def page(db: sqlite3.Connection, key_hash: str | None, limit: int, cursor: str | None) -> GenerationPage:
    """One page of the log (one row more is read to know whether another page follows)."""
    conditions: list[str] = []
    values: list[Any] = []
    if key_hash is not None:
        conditions.append("key_hash = ?")
        values.append(key_hash)
    if (after := _position(cursor)) is not None:
        conditions.append(_OLDER)
        values += [after[0], after[0], after[1]]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = db.execute(_LOG + where + _NEWEST_FIRST, (*values, limit + 1)).fetchall()
    shown = rows[:limit]
    more = len(rows) > limit
    return GenerationPage([decode_generation(r[2]) for r in shown],
                          encode_cursor([shown[-1][0], shown[-1][1]]) if more and shown else None)
