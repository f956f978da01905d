"""Where the request path's store calls run: on the event loop for SQLite, in worker threads for DynamoDB,
and how long an inline SQLite call can hold the loop when another process has the database locked."""

from __future__ import annotations

import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from lambdarouter.store import Hold, KeySettings, call_store
from lambdarouter.store.sqlite import BUSY_TIMEOUT_MS, SQLiteStore


class ThreadRecorder:
    """A store whose calls report the thread they ran on."""

    def __init__(self, inline: bool) -> None:
        self.inline = inline

    def which_thread(self, tag: str, *, suffix: str = "") -> tuple[str, int]:
        return tag + suffix, threading.get_ident()


def test_inline_stores_run_on_the_loop_and_others_in_a_worker_thread() -> None:
    async def main() -> None:
        loop_thread = threading.get_ident()
        for inline in (True, False):
            recorder = ThreadRecorder(inline)
            tag, thread = await call_store(recorder, recorder.which_thread, "a", suffix="b")  # type: ignore[arg-type]
            assert tag == "ab"
            assert (thread == loop_thread) is inline

    anyio.run(main)


def test_the_sqlite_store_is_inline(tmp_path: Path) -> None:
    assert SQLiteStore(tmp_path / "s.sqlite3").inline


def test_an_inline_write_waits_a_bounded_time_for_another_process_lock(tmp_path: Path) -> None:
    """The loop is frozen while an inline call waits for a lock: the wait is bounded (then it fails)."""
    path = tmp_path / "locked.sqlite3"
    store = SQLiteStore(path)
    _, key = store.create_key("k", KeySettings("k", limit=Decimal(1)))
    # The bound is SQLite's busy timeout, on both of the store's connections (how long it really waited is a
    # matter of the machine's load: not asserted).
    assert [db.execute("PRAGMA busy_timeout").fetchone()[0] for db in (store._db, store._scans)] == [
        BUSY_TIMEOUT_MS] * 2
    other = sqlite3.connect(path, isolation_level=None)  # the CLI, or an open `sqlite3` shell
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.reserve(key, Hold("gen-1", Decimal("0.1"), time.time() + 60), time.time())
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert waited >= BUSY_TIMEOUT_MS / 1000 * 0.9  # it did wait for the lock before failing
    assert store.reserve(key, Hold("gen-2", Decimal("0.1"), time.time() + 60), time.time()).ok


def test_reports_do_not_hold_the_lock_the_request_path_takes(tmp_path: Path) -> None:
    """A long scan in a worker thread (a usage report over a big ledger) leaves the loop's calls free."""
    store = SQLiteStore(tmp_path / "scan.sqlite3")
    _, key = store.create_key("k")
    scan_started, key_found = threading.Event(), threading.Event()
    scan_waited: list[bool] = []
    original = store._scans

    class SlowScans:
        """A scan that goes on only once the request path's call is done: if that call needed anything the
        scan holds, neither could finish, and the scan's bounded wait says so."""

        def execute(self, *args: Any) -> Any:
            scan_started.set()
            scan_waited.append(key_found.wait(30))
            return original.execute(*args)

    store._scans = SlowScans()  # type: ignore[assignment]
    scanner = threading.Thread(target=store.query_generations, args=(None,))
    scanner.start()
    try:
        assert scan_started.wait(30)
        assert store.find_key(key.hash) == key
        key_found.set()
    finally:
        key_found.set()
        scanner.join(30)
    assert scan_waited == [True]
