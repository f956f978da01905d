"""Issue 19: GET /usage, /generations and /key on DynamoDB read a bounded number of items, whatever the size of
the ledger. The same hours, keys and models hold one row each, then four: what each route reads from the ledger
and the aggregates is counted on the store's own client (every page of every paginated query is one call),
over loopback to moto in server mode."""

from __future__ import annotations

import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient

from lambdarouter.http.app import create_app
from lambdarouter.store import dynamodb_ledger
from lambdarouter.store.dynamodb import DynamoDBStore
from lambdarouter.store.dynamodb_summary import SHARDS, summary_update
from lambdarouter.store.summary import summarize
from tests.gateway import ADMIN_KEY
from tests.store_fixtures import AtomicCalls, dynamodb_store, gateway_client, generation
from tests.stores import wait

HOURS = 12
MODELS = [("openai/gpt-4o", "openai"), ("anthropic/claude-sonnet-4.5", "anthropic")]
PAGE = 20


class ReadCounter(AtomicCalls):
    """The store's client, counting the items returned and the operations called, per table."""

    items: Counter[str]
    calls: Counter[tuple[str, str]]

    def reset(self) -> None:
        self.items, self.calls = Counter(), Counter()

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        parsed = super().call(operation, params)
        table = params.get("TableName", "")
        self.calls[(operation, table)] += 1
        self.items[table] += int(parsed.get("Count", 0)) + ("Item" in parsed)
        return parsed


@pytest.fixture
def aws(moto_aws: str) -> tuple[DynamoDBStore, ReadCounter]:
    counter = ReadCounter(gateway_client(moto_aws))
    counter.reset()
    return dynamodb_store(moto_aws, counter), counter


def fill(store: DynamoDBStore, keys: list[str], per_cell: int, now: float, first: int) -> int:
    """`per_cell` generations in each of the last HOURS hours for each key and model, each in a second of its own:
    the items a settle writes (its ledger row and aggregates), put one by one (moto copies every table for each
    transaction, which a big ledger makes slow; tests/test_store_ledger.py covers the transaction itself)."""
    number = first
    for hour in range(HOURS):
        for key_hash in keys:
            for model, provider in MODELS:
                for _ in range(per_cell):
                    number += 1
                    created = float(int(now) - hour * 3600 - number)
                    row = generation(key_hash, f"gen-{number}", "0.001", created_at=created, model=model,
                                     provider=provider)
                    store.client.put_item(**dynamodb_ledger.ledger_put(store.usage_table, row)["Put"])
                    for identity, counters in summarize([row]).items():
                        store.client.update_item(**summary_update(store.summary_table, identity, counters)["Update"])
    return number


def read_by_routes(store: DynamoDBStore, counter: ReadCounter, key: str) -> dict[str, Counter[str]]:
    app = create_app(["usage", "key"])
    app.state.gateway = SimpleNamespace(store=store, credentials={"LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY})
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    reads: dict[str, Counter[str]] = {}
    with TestClient(app, base_url="http://testserver/api/v1") as client:
        for name, path, headers in [("usage by hour", "/usage?bucket=hour&by=model", admin),
                                    ("usage by day", "/usage?bucket=day&by=key", admin),
                                    ("request log", f"/generations?limit={PAGE}", admin),
                                    ("one key's log", f"/generations?limit={PAGE}&key={store_hash(key)}", admin),
                                    ("key", "/key", {"authorization": f"Bearer {key}"})]:
            counter.reset()
            response = client.get(path, headers=headers)
            assert response.status_code == 200, response.text
            assert not any(operation == "Scan" and table == store.usage_table for operation, table in counter.calls)
            reads[name] = Counter(counter.items)
    return reads


def store_hash(plaintext: str) -> str:
    from lambdarouter.store import hash_key

    return hash_key(plaintext)


def test_reads_do_not_grow_with_the_ledger(aws: tuple[DynamoDBStore, ReadCounter]) -> None:
    store, counter = aws
    plaintexts = []
    for name in ("a", "b"):
        plaintext, _ = wait(store.create_key(name))
        plaintexts.append(plaintext)
    hashes = [store_hash(p) for p in plaintexts]
    now = time.time()
    written = fill(store, hashes, 1, now, 0)
    small = read_by_routes(store, counter, plaintexts[0])
    fill(store, hashes, 3, now, written)  # four rows per hour, key and model now
    large = read_by_routes(store, counter, plaintexts[0])

    for route in ("usage by hour", "usage by day", "key"):
        assert large[route] == small[route], route  # the same aggregates, whatever the ledger holds
        assert large[route][store.usage_table] == 0  # and never a ledger row
    cells = HOURS * len(hashes) * len(MODELS)
    assert small["usage by hour"][store.summary_table] <= cells + len(hashes) * len(MODELS)  # 24 or 25 hours
    assert large["key"][store.summary_table] <= 2 * len(MODELS) * 7  # its days of this week and month, at most
    # A page of the request log reads one query page (`limit` + 2 rows) of each shard of the month at most.
    for route in ("request log", "one key's log"):
        assert large[route][store.usage_table] <= SHARDS * (PAGE + 2), route
    ledger_rows = len(hashes) * len(MODELS) * HOURS * 4
    assert large["request log"][store.usage_table] < ledger_rows / 2
