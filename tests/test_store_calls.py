"""Where the store's calls run, and what they can hold up: SQLite's request path on the event loop without an
fsync, its reports in worker threads, DynamoDB always in worker threads, a locked file bounded."""

from __future__ import annotations

import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from lambdarouter.store import Hold, KeySettings, StoreUnavailable, sqlite_summary
from lambdarouter.store.codec import decode_generation
from lambdarouter.store.sqlite import BUSY_TIMEOUT_MS, SQLiteStore
from lambdarouter.store.sqlite_wal import wal_generation
from tests.store_fixtures import NOW, generation
from tests.stores import wait


class Recording(SQLiteStore):
    """Reports the thread each key read and each page of the log ran on."""

    threads: list[tuple[str, int]]

    def _load(self, db: sqlite3.Connection, key_hash: str) -> Any:
        self.threads.append(("key", threading.get_ident()))
        return super()._load(db, key_hash)


def test_sqlite_runs_the_request_path_on_the_loop_and_reports_in_threads(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = Recording(tmp_path / "s.sqlite3")
    store.threads = []
    from lambdarouter.store import sqlite_ledger

    page = sqlite_ledger.page

    def recorded_page(*args: Any) -> Any:
        store.threads.append(("page", threading.get_ident()))
        return page(*args)

    monkeypatch.setattr(sqlite_ledger, "page", recorded_page)

    async def main() -> int:
        _, key = await store.create_key("k")
        await store.find_key(key.hash)
        await store.generations(None, 10)
        return threading.get_ident()

    loop_thread = anyio.run(main)
    assert ("key", loop_thread) in store.threads
    assert [kind for kind, thread in store.threads if thread != loop_thread] == ["page"]


def test_an_inline_write_waits_a_bounded_time_for_another_process_lock(tmp_path: Path) -> None:
    """The loop is frozen while an inline call waits for a lock: the wait is bounded (then it fails)."""
    path = tmp_path / "locked.sqlite3"
    store = SQLiteStore(path)
    _, key = wait(store.create_key("k", KeySettings("k", limit=Decimal(1))))
    # The bound is SQLite's busy timeout, on both of the store's connections (how long it really waited is a
    # matter of the machine's load: only its lower bound is asserted).
    assert [db.execute("PRAGMA busy_timeout").fetchone()[0] for db in (store._db, store._scans)] == [
        BUSY_TIMEOUT_MS] * 2
    other = sqlite3.connect(path, isolation_level=None)  # the CLI, or an open `sqlite3` shell
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            wait(store.reserve(key, Hold("gen-1", Decimal("0.1"), time.time() + 60), time.time()))
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked" in str(raised.value.__cause__)
    assert waited >= BUSY_TIMEOUT_MS / 1000 * 0.9  # it did wait for the lock before failing
    assert wait(store.reserve(key, Hold("gen-2", Decimal("0.1"), time.time() + 60), time.time())).ok


def test_reports_do_not_hold_the_lock_the_request_path_takes(tmp_path: Path) -> None:
    """A long read in a worker thread (a page of a big ledger) leaves the loop's calls free."""
    store = SQLiteStore(tmp_path / "scan.sqlite3")
    _, key = wait(store.create_key("k"))
    scan_started, release = threading.Event(), threading.Event()
    original = store._scans

    class SlowScans:
        def execute(self, *args: Any) -> Any:
            scan_started.set()
            release.wait(30)  # a bound only a request path blocked behind the scan meets
            return original.execute(*args)

    store._scans = SlowScans()  # type: ignore[assignment]
    scanner = threading.Thread(target=lambda: wait(store.generations(None, 50)))
    scanner.start()
    try:
        assert scan_started.wait(30)
        assert wait(store.find_key(key.hash)) == key  # answered while the scan still waits
        assert not release.is_set() and scanner.is_alive()
    finally:
        release.set()
        scanner.join(30)


def test_the_request_path_never_checkpoints_nor_restarts_the_wal(tmp_path: Path) -> None:
    """SQLite syncs at a checkpoint and at the first write after one (the WAL's restart): both belong to the
    checkpointer's thread (store/sqlite_wal.py). The WAL header's salts change at each restart."""
    path = tmp_path / "wal.sqlite3"
    store = SQLiteStore(path, checkpoint_commits=20)
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    _, key = wait(store.create_key("k"))
    first = wal_generation(path)
    with store.checkpointer.done:
        for i in range(19):
            assert wait(store.settle(generation(key.hash, f"gen-{i}", "0.01"), None, NOW))
        assert store.checkpointer.done.wait_for(lambda: store.checkpointer.cycles >= 1, timeout=30)
    restarted = wal_generation(path)
    assert restarted != first  # restarted by the checkpointer's own write, in its thread
    # The same cycle folded the new ledger rows into the usage aggregates: no report has to fold them itself.
    assert store._scans.execute("SELECT value FROM summary_state").fetchone() == (19,)
    for i in range(5):
        assert wait(store.settle(generation(key.hash, f"gen-after-{i}", "0.01"), None, NOW))
        assert wal_generation(path) == restarted  # the request path appends: no restart, no header sync
    assert wait(store.get_generation("gen-after-4")) is not None


def test_by_default_the_first_write_after_a_checkpoint_restarts_the_wal(tmp_path: Path) -> None:
    """What the test above guards against, shown on a plain connection: the writer restarts (and syncs)."""
    path = tmp_path / "plain.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, frames) == (0, copied)
    before = wal_generation(path)
    db.execute("INSERT INTO t VALUES (2)")
    assert wal_generation(path) != before


def test_the_checkpointers_roll_up_hands_the_gil_back_every_few_rows(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkpointer's upkeep decodes the new ledger rows in Python, in its own thread, while the event loop
    serves: between two of its SQLite calls a waiting loop thread gets the GIL only after the interpreter's switch
    interval (5 ms), unless the upkeep hands it over itself, which it does every `SLICE_ROWS` rows."""
    decoded: list[int] = [0]
    between: list[int] = []

    def counting_decode(text: str) -> Any:
        decoded[0] += 1
        return decode_generation(text)

    def recording_hand_over() -> None:
        between.append(decoded[0])
        decoded[0] = 0

    monkeypatch.setattr(sqlite_summary, "decode_generation", counting_decode)
    monkeypatch.setattr(sqlite_summary, "hand_over", recording_hand_over)
    store = SQLiteStore(tmp_path / "upkeep.sqlite3", checkpoint_commits=41)
    _, key = wait(store.create_key("k"))
    with store.checkpointer.done:
        for i in range(40):  # the 41st commit wakes the checkpointer
            assert wait(store.settle(generation(key.hash, f"gen-{i}", "0.01"), None, NOW))
        assert store.checkpointer.done.wait_for(lambda: store.checkpointer.cycles >= 1, timeout=30)
    assert store._scans.execute("SELECT value FROM summary_state").fetchone() == (40,)  # all folded
    assert sum(between) + decoded[0] == 40
    assert len(between) >= 40 // sqlite_summary.SLICE_ROWS and max(between) <= sqlite_summary.SLICE_ROWS
