"""What one non-streamed request costs the SQLite store, counted: the statements it runs and where they run.

Timing belongs in bench/; this holds the causes out for good without a clock (docs/performance.md, "The request
path"): every statement of the request path is a C call under the store's lock on the event loop, so one more per
request is CPU every request pays, and one run in a worker thread is a thread hop (and GIL traffic) it pays too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import create_app
from lambdarouter.store import KeySettings
from lambdarouter.store.sqlite import SQLiteStore
from tests.accounting import HELLO, completion_body, exact_json
from tests.fakes.upstream import FakeUpstream, Reply
from tests.stores import ledger_rows, wait
from tests.test_accounting_paths import PATH, in_process_gateway


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "statements.sqlite3")


@pytest.fixture
def gateway(store: SQLiteStore, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    gateway = in_process_gateway(store, fake_upstream, monkeypatch)
    gateway.health.last_sync = time.monotonic()  # the endpoint-health sync runs every SYNC_SECONDS, not per request
    return gateway


@pytest.fixture
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(create_app(gateway=gateway), base_url="http://testserver/api/v1") as test_client:
        yield test_client


def traced_request(client: TestClient, store: SQLiteStore, fake_upstream: FakeUpstream,
                   settings: KeySettings) -> tuple[list[str], str, str]:
    """The statements one answered request ran on the store's request-path connection (each checked to run on
    the event loop), the answer's cost and the key's hash."""
    plaintext, key = wait(store.create_key("k", settings))
    fake_upstream.reply(Reply.json(completion_body(5, 6)), path=PATH)
    statements: list[str] = []

    def trace(sql: str) -> None:
        on_loop = asyncio._get_running_loop() is not None  # called from a coroutine's step, not a worker thread
        statements.append(" ".join(sql.split()[:4]) if on_loop else f"IN A THREAD: {sql}")

    store._db.set_trace_callback(trace)
    try:
        response = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO},
                               headers={"authorization": f"Bearer {plaintext}"})
    finally:
        store._db.set_trace_callback(None)
    assert response.status_code == 200, response.text
    return statements, exact_json(response.text)["usage"]["cost"], key.hash


def test_an_unlimited_key_costs_one_read_and_one_write_transaction(client: TestClient, store: SQLiteStore,
                                                                   fake_upstream: FakeUpstream) -> None:
    statements, cost, key_hash = traced_request(client, store, fake_upstream, KeySettings("k"))
    assert statements == [
        "SELECT keys.hash, keys.name, keys.label,",  # authentication: the key and its holds, one statement
        "BEGIN IMMEDIATE", "INSERT OR IGNORE INTO", "SELECT remaining, usage, period_usage",
        "UPDATE keys SET remaining", "COMMIT",  # settle: the ledger row and the key's counters
    ]
    [record] = ledger_rows(store, key_hash)
    assert record.cost == Decimal(cost) > 0
    key = wait(store.find_key(key_hash))
    assert key is not None and key.usage == Decimal(cost)


def test_a_limited_key_adds_the_reservation_and_gives_its_hold_back(client: TestClient, store: SQLiteStore,
                                                                    fake_upstream: FakeUpstream) -> None:
    statements, cost, key_hash = traced_request(client, store, fake_upstream, KeySettings("k", limit=Decimal(1)))
    assert statements == [
        "SELECT keys.hash, keys.name, keys.label,",  # authentication
        "BEGIN IMMEDIATE", "SELECT keys.hash, keys.name, keys.label,", "INSERT INTO holds (key_hash,",
        "UPDATE keys SET remaining", "COMMIT",  # reserve: no expired hold to sweep, no statement for it
        "BEGIN IMMEDIATE", "INSERT OR IGNORE INTO", "SELECT remaining, usage, period_usage", "DELETE FROM holds WHERE",
        "UPDATE keys SET remaining", "COMMIT",  # settle: the hold deleted and given back in the same transaction
    ]
    key = wait(store.find_key(key_hash))
    assert key is not None and (key.holds, key.usage, key.remaining) == ((), Decimal(cost), 1 - Decimal(cost))
