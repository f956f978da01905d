"""SQLite's fsyncs, off the request path.

In WAL mode with `synchronous=NORMAL` a commit appends to the WAL and syncs nothing. What syncs is a
checkpoint (the WAL, then the database file), and the first write after a complete checkpoint: it
restarts the WAL from its beginning and syncs the new WAL header (https://www.sqlite.org/pragma.html#pragma_synchronous,
"the WAL file header is synchronized when a WAL file begins to be reused after a checkpoint"). By default
SQLite does both in the connection that commits, every 1,000 WAL pages: about once per 100 settles, on
the event loop, where each fdatasync (0.8 to 3 ms on disk) stalls every connection of the server (issue 20:
p99 3.4 to 4.1 ms on disk against 1.5 to 1.8 ms on tmpfs).

Here the request path's connection never checkpoints (`wal_autocheckpoint=0`); a thread of its own does,
with its own connection. PASSIVE checkpoints neither wait for nor block readers and writers. Once one has
copied everything, the same thread makes the next write itself (a one-row counter), so the WAL's restart and
its header sync happen here too (`Checkpointer.checkpoint`). The request path can meet the store's write lock
for those last short syncs, once per `CHECKPOINT_COMMITS` commits, instead of running a whole checkpoint and
its syncs itself every ~50 commits. The thread starts when the first batch of
commits is due (a short-lived process, the CLI, never starts it: SQLite checkpoints when the last
connection closes). Commits stay as durable as before: a process crash loses nothing committed, an
OS crash may lose the last commits since a checkpoint (what `synchronous=NORMAL` always meant).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS wal_restarts (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL
);
"""
# 4 to 8 WAL pages per settle: a WAL of 16 to 32 MB between checkpoints (then reused in place, truncated to
# `JOURNAL_SIZE_LIMIT` when restarted).
CHECKPOINT_COMMITS = 1000
IDLE_SECONDS = 30.0  # a quiet server still checkpoints what it wrote
UNLOCKED_PASSES = 6
FEW_FRAMES = 16  # what the last, locked pass may copy: a couple of settles' pages
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
_RESTART = ("INSERT INTO wal_restarts (id, count) VALUES (1, 1) "
            "ON CONFLICT (id) DO UPDATE SET count = count + 1")


class Checkpointer:
    """Checkpoints `path` in a daemon thread after every `commits` commits the store reports."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], lock: threading.Lock,
                 commits: int = CHECKPOINT_COMMITS, idle_seconds: float = IDLE_SECONDS,
                 maintain: Callable[[], object] | None = None) -> None:
        self._connect, self._lock, self._maintain = connect, lock, maintain
        self._threshold, self._idle = commits, idle_seconds
        self._pending = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0  # checkpoints that restarted the WAL (tests wait on `done`)
        self.done = threading.Condition()

    def committed(self) -> None:
        """Called after each commit on the request path: a counter, and a wake-up every `commits`."""
        self._pending += 1
        if self._pending >= self._threshold:
            self._pending = 0
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
                self._thread.start()
            self._wake.set()

    def _run(self) -> None:
        db = self._connect()
        while True:
            self._wake.wait(self._idle)
            self._wake.clear()
            restarted = False
            try:
                restarted = self.checkpoint(db)
                if self._maintain is not None:  # other upkeep that must not run on the request path
                    self._maintain()
            except Exception:  # the thread lives on: the next cycle tries again (meanwhile the WAL only grows)
                logger.warning("SQLite checkpoint or upkeep failed", exc_info=True)
            with self.done:
                self.cycles += restarted
                self.done.notify_all()

    def checkpoint(self, db: sqlite3.Connection) -> bool:
        """Copy the WAL into the database and restart it here; False when a reader still needs part of it.

        A PASSIVE checkpoint copies the frames that were in the WAL when it began, while the request path keeps
        appending. Passes without any lock copy the bulk, each the frames appended during the one before, until
        few are left; the last pass holds the store's write lock, so that no writer of this process comes between
        it and the restart: it copies those few frames (two short fsyncs) before the restart's own header sync.
        """
        last = -1
        for _ in range(UNLOCKED_PASSES):
            busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy or frames <= 0 or copied < frames:
                return False  # a reader still needs part of the WAL: the next cycle copies the rest
            if 0 <= frames - last <= FEW_FRAMES:
                break
            last = frames
        with self._lock:
            busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy or copied < frames:
                return False
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(_RESTART)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return True


def wal_generation(path: Path) -> bytes:
    """The WAL header's two salts (bytes 16 to 24): new at every restart of the WAL, so two reads that differ
    mean a restart (and its header sync) happened between them (https://www.sqlite.org/fileformat2.html#walformat;
    the checkpoint sequence number beside them is each connection's own count, not the file's)."""
    wal = Path(f"{path}-wal")
    return wal.read_bytes()[16:24] if wal.exists() else b""
