"""One behaviour, two stores: every test here runs against SQLite and against DynamoDB (moto)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdarouter.core.health import HealthBoard
from lambdarouter.store import KEY_PREFIX, Store, hash_key
from lambdarouter.store.codec import encode_generation
from lambdarouter.store.dynamodb import DynamoDBStore
from lambdarouter.store.model import GenerationRecord, Hold, KeySettings, RateLimit, StoredResponse, period_start
from lambdarouter.store.sqlite import SQLiteStore
from lambdarouter.store.tables import create_tables, table_names

D = Decimal
NOW = datetime(2031, 3, 12, 15, 30, tzinfo=UTC).timestamp()  # a Wednesday, after any key here is created


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    if request.param == "sqlite":
        yield SQLiteStore(tmp_path / "store.sqlite3")
        return
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        client = AtomicCalls(boto3.client("dynamodb", region_name="us-east-1"))
        names = table_names({})
        create_tables(client, names)
        yield DynamoDBStore(names["KeysTable"], names["UsageTable"], names["IdempotencyTable"], client=client)


class AtomicCalls:
    """A DynamoDB client whose calls run one at a time.

    DynamoDB applies each request to an item atomically; moto's in-memory backend does not (two threads'
    conditional updates can interleave inside it). Serialising whole calls gives the tests DynamoDB's
    guarantee and nothing more: the store's own calls still interleave between threads in any order.
    """

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._client.meta.method_to_api_mapping:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


def persisted_text(store: Store) -> str:
    """Everything the store wrote, as text (the SQLite file and WAL, or every DynamoDB item)."""
    if isinstance(store, SQLiteStore):
        path = Path(store._db.execute("PRAGMA database_list").fetchone()[2])
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        return raw.decode("latin-1") + "\n".join(sqlite3.connect(path).iterdump())
    assert isinstance(store, DynamoDBStore)
    return "\n".join(repr(store.client.scan(TableName=t)["Items"])
                     for t in store.client.list_tables()["TableNames"])


def generation(key_hash: str, gen_id: str, cost: str, created_at: float = NOW, **changes: Any) -> GenerationRecord:
    record = GenerationRecord(
        id=gen_id, key_hash=key_hash, created_at=created_at, model_requested="openai/gpt-4o",
        model="openai/gpt-4o", provider="openai", streamed=False, status="success", finish_reason="stop",
        native_finish_reason="stop", prompt_tokens=10, completion_tokens=20, cached_tokens=0,
        cache_write_tokens=0, reasoning_tokens=0, cost=D(cost), latency_ms=12, first_token_ms=5,
        attempts=(("openai", 200, 12),),
    )
    return dataclasses.replace(record, **changes)


def check_invariant(store: Store, key_hash: str, now: float) -> None:
    """remaining == limit - period usage - outstanding holds (store/model.py)."""
    key = store.find_key(key_hash)
    assert key is not None
    assert key.remaining == (key.limit or 0) - key.period_usage - sum((h.amount for h in key.holds), D(0))


def test_key_crud(store: Store) -> None:
    settings = KeySettings("team-a", label="Team A", limit=D("12.50"), limit_reset="monthly",
                           expires_at=NOW + 86400, rate_limit=RateLimit(30, 60), allowed_models=("openai/*",))
    plaintext, record = store.create_key("team-a", settings)
    assert plaintext.startswith(KEY_PREFIX) and record.hash == hash_key(plaintext)
    assert store.find_key(record.hash) == record
    assert (record.label, record.limit, record.remaining, record.rate_limit) == ("Team A", D("12.50"), D("12.50"),
                                                                                 RateLimit(30, 60))
    _, second = store.create_key("team-b")
    assert second.label.startswith(KEY_PREFIX) and second.limit is None
    assert [k.hash for k in store.list_keys()] == [record.hash, second.hash]
    assert [k.hash for k in store.list_keys(offset=1)] == [second.hash]
    assert [k.hash for k in store.list_keys(limit=1)] == [record.hash]
    assert store.has_keys()

    updated = store.update_key(record.hash, {"name": "renamed", "disabled": True, "limit": D(20),
                                             "rate_limit": None, "allowed_models": None}, NOW)
    assert updated is not None
    assert (updated.name, updated.disabled, updated.limit, updated.rate_limit, updated.allowed_models) == (
        "renamed", True, D(20), None, None)
    assert updated.remaining == D("20") and updated.updated_at == NOW
    assert store.find_key(record.hash) == updated
    assert store.update_key("0" * 64, {"name": "x"}, NOW) is None
    with pytest.raises(ValueError, match="unknown key settings"):
        store.update_key(record.hash, {"hash": "x"}, NOW)

    assert store.delete_key(record.hash)
    assert store.find_key(record.hash) is None
    assert not store.delete_key(record.hash)
    assert [k.hash for k in store.list_keys()] == [second.hash]


def test_only_the_hash_is_stored(store: Store) -> None:
    plaintexts = [store.create_key(f"k{i}")[0] for i in range(3)]
    store.record_generation(generation(hash_key(plaintexts[0]), "gen-1", "0.01"))
    text = persisted_text(store)
    assert hash_key(plaintexts[0]) in text
    for plaintext in plaintexts:
        assert plaintext not in text
        assert plaintext[len(KEY_PREFIX):] not in text


def test_reserve_and_settle(store: Store) -> None:
    _, key = store.create_key("k", KeySettings("k", limit=D("1.00")))
    assert store.reserve(key, Hold("gen-a", D("0.40"), NOW + 600), NOW).ok
    refused = store.reserve(key, Hold("gen-b", D("0.70"), NOW + 600), NOW)
    assert not refused.ok and refused.available == D("0.60")
    check_invariant(store, key.hash, NOW)

    assert store.settle(generation(key.hash, "gen-a", "0.1"), Hold("gen-a", D("0.40"), NOW + 600), NOW)
    after = store.find_key(key.hash)
    assert after is not None
    assert (after.remaining, after.usage, after.period_usage, after.holds) == (D("0.9"), D("0.1"), D("0.1"), ())
    # Settling again (a retried write) changes nothing.
    assert not store.settle(generation(key.hash, "gen-a", "0.1"), Hold("gen-a", D("0.40"), NOW + 600), NOW)
    assert store.find_key(key.hash) == after
    assert store.get_generation("gen-a") == generation(key.hash, "gen-a", "0.1")
    check_invariant(store, key.hash, NOW)


def test_settling_an_unknown_hold_charges_without_releasing(store: Store) -> None:
    _, key = store.create_key("k", KeySettings("k", limit=D("1")))
    assert store.settle(generation(key.hash, "gen-x", "0.25"), Hold("gen-x", D("0.5"), NOW + 60), NOW)
    after = store.find_key(key.hash)
    assert after is not None and (after.remaining, after.usage) == (D("0.75"), D("0.25"))


def test_expired_holds_are_released_and_settle_once(store: Store) -> None:
    _, key = store.create_key("k", KeySettings("k", limit=D("1")))
    orphan = Hold("gen-orphan", D("0.9"), NOW + 10)
    assert store.reserve(key, orphan, NOW).ok
    assert not store.reserve(key, Hold("gen-2", D("0.5"), NOW + 600), NOW + 5).ok
    # The orphan's function died: after its expiry the next reserve releases it.
    later = store.reserve(key, Hold("gen-3", D("0.5"), NOW + 600), NOW + 11)
    assert later.ok and later.available == D("1")
    check_invariant(store, key.hash, NOW + 11)
    # The orphan's generation still settles (late): charged once, its hold not added back twice.
    assert store.settle(generation(key.hash, "gen-orphan", "0.2"), orphan, NOW + 12)
    after = store.find_key(key.hash)
    assert after is not None and (after.usage, after.remaining) == (D("0.2"), D("0.3"))
    check_invariant(store, key.hash, NOW + 12)


def test_period_reset(store: Store) -> None:
    _, key = store.create_key("k", KeySettings("k", limit=D("1"), limit_reset="daily"))
    assert store.reserve(key, Hold("gen-1", D("1"), NOW + 600), NOW).ok
    store.settle(generation(key.hash, "gen-1", "0.8"), Hold("gen-1", D("1"), NOW + 600), NOW)
    assert not store.reserve(key, Hold("gen-2", D("0.5"), NOW + 600), NOW + 60).ok
    tomorrow = period_start("daily", NOW) + 86400 + 1
    fresh = store.find_key(key.hash)
    assert fresh is not None and fresh.usage_in_period(tomorrow) == 0
    assert store.reserve(key, Hold("gen-3", D("0.5"), tomorrow + 600), tomorrow).ok
    after = store.find_key(key.hash)
    assert after is not None
    assert (after.usage, after.period_usage, after.remaining) == (D("0.8"), D(0), D("0.5"))
    assert after.period_start == period_start("daily", tomorrow)
    check_invariant(store, key.hash, tomorrow)


def test_period_boundaries_are_utc() -> None:
    assert datetime.fromtimestamp(period_start("daily", NOW), UTC) == datetime(2031, 3, 12, tzinfo=UTC)
    assert datetime.fromtimestamp(period_start("weekly", NOW), UTC) == datetime(2031, 3, 10, tzinfo=UTC)
    assert datetime.fromtimestamp(period_start("monthly", NOW), UTC) == datetime(2031, 3, 1, tzinfo=UTC)
    assert period_start(None, NOW) == 0


def test_limit_changes_move_remaining(store: Store) -> None:
    _, key = store.create_key("k", KeySettings("k", limit=D("1")))
    store.reserve(key, Hold("gen-1", D("0.5"), NOW + 600), NOW)
    raised = store.update_key(key.hash, {"limit": D("2")}, NOW)
    assert raised is not None and raised.remaining == D("1.5")
    unlimited = store.update_key(key.hash, {"limit": None}, NOW)
    assert unlimited is not None and unlimited.limit is None and unlimited.limit_remaining(NOW) is None
    check_invariant(store, key.hash, NOW)


def test_keys_without_a_limit_still_count_usage(store: Store) -> None:
    _, key = store.create_key("k")
    assert store.record_generation(generation(key.hash, "gen-1", "0.003"))
    assert store.record_generation(generation(key.hash, "gen-2", "0.004"))
    assert not store.record_generation(generation(key.hash, "gen-2", "0.004"))
    after = store.find_key(key.hash)
    assert after is not None and after.usage == D("0.007")


def test_concurrent_reservations_never_overspend(store: Store) -> None:
    """50 threads ask at once for a budget that covers 10."""
    amount = D("0.0123")
    _, key = store.create_key("k", KeySettings("k", limit=amount * 10))
    results: dict[int, bool] = {}
    barrier = threading.Barrier(50)

    def ask(i: int) -> None:
        barrier.wait()
        results[i] = store.reserve(key, Hold(f"gen-{i:02}", amount, NOW + 600), NOW).ok
        if results[i]:
            store.settle(generation(key.hash, f"gen-{i:02}", str(amount)), Hold(f"gen-{i:02}", amount, NOW + 600),
                         NOW)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(results.values()) == 10
    after = store.find_key(key.hash)
    assert after is not None
    assert after.usage == amount * 10 and after.remaining == 0 and after.holds == ()
    ledger = store.query_generations(key.hash)
    assert len(ledger) == 10 and sum(r.cost for r in ledger) == amount * 10


def test_a_stale_record_is_checked_against_the_key_as_it_is(store: Store) -> None:
    """`reserve` gets the key as authenticated; spend and an operator's edits since then still count."""
    _, key = store.create_key("k", KeySettings("k", limit=D("1")))
    assert store.reserve(key, Hold("gen-1", D("0.8"), NOW + 600), NOW).ok
    assert not store.reserve(key, Hold("gen-2", D("0.5"), NOW + 600), NOW).ok  # `key` still says 1 remaining
    store.settle(generation(key.hash, "gen-1", "0.8"), Hold("gen-1", D("0.8"), NOW + 600), NOW)
    assert store.update_key(key.hash, {"limit_reset": "daily"}, NOW) is not None
    tomorrow = period_start("daily", NOW) + 86400 + 1
    later = store.reserve(key, Hold("gen-3", D("0.9"), tomorrow + 600), tomorrow)  # `key` says: no reset
    assert later.ok and later.available == D("1")
    check_invariant(store, key.hash, tomorrow)
    store.delete_key(key.hash)
    gone = store.reserve(key, Hold("gen-4", D("0.1"), tomorrow + 600), tomorrow)
    assert (gone.ok, gone.available) == (False, D(0))


def test_dynamodb_reserves_with_one_update_and_no_read(store: Store) -> None:
    if not isinstance(store, DynamoDBStore):
        pytest.skip("DynamoDB's request units")
    _, key = store.create_key("k", KeySettings("k", limit=D("1")))
    calls: list[str] = []
    client = store.client

    class Recording:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(client, name)

    store._client = Recording()
    assert store.reserve(key, Hold("gen-1", D("0.4"), NOW + 600), NOW).ok
    assert calls == ["update_item"]


def test_rate_windows(store: Store) -> None:
    _, key = store.create_key("k")
    limit = RateLimit(3, 60)
    start = float(int(NOW // 60) * 60)
    decisions = [store.hit_rate_window(key.hash, limit, start + i) for i in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.reset_at == start + 60 and d.limit == 3 for d in decisions)
    following = store.hit_rate_window(key.hash, limit, start + 61)
    assert following.allowed and following.remaining == 2 and following.reset_at == start + 120
    other = store.create_key("other")[1]
    assert store.hit_rate_window(other.hash, limit, start + 61).remaining == 2


def test_concurrent_rate_window(store: Store) -> None:
    _, key = store.create_key("k")
    allowed: list[bool] = []
    barrier = threading.Barrier(20)

    def hit() -> None:
        barrier.wait()
        allowed.append(store.hit_rate_window(key.hash, RateLimit(5, 60), NOW).allowed)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert allowed.count(True) == 5


def test_ledger_range_queries(store: Store) -> None:
    _, a = store.create_key("a")
    _, b = store.create_key("b")
    for i in range(5):
        store.record_generation(generation(a.hash, f"gen-a{i}", "0.01", created_at=NOW + i * 100,
                                           streamed=bool(i % 2), status="aborted" if i == 4 else "success"))
    store.record_generation(generation(b.hash, "gen-b0", "0.5", created_at=NOW + 150))
    assert [r.id for r in store.query_generations(a.hash)] == [f"gen-a{i}" for i in range(5)]
    assert [r.id for r in store.query_generations(a.hash, since=NOW + 100, until=NOW + 300)] == ["gen-a1", "gen-a2"]
    assert [r.id for r in store.query_generations(None, since=NOW + 100, until=NOW + 201)] == [
        "gen-a1", "gen-b0", "gen-a2"]
    assert store.get_generation("gen-a4") == generation(a.hash, "gen-a4", "0.01", created_at=NOW + 400,
                                                        streamed=False, status="aborted")
    assert store.get_generation("gen-missing") is None


def test_settle_after_the_key_was_deleted_keeps_the_ledger_row(store: Store) -> None:
    _, key = store.create_key("k", KeySettings("k", limit=D("1")))
    store.reserve(key, Hold("gen-1", D("0.5"), NOW + 600), NOW)
    store.delete_key(key.hash)
    assert store.settle(generation(key.hash, "gen-1", "0.1"), Hold("gen-1", D("0.5"), NOW + 600), NOW)
    assert store.get_generation("gen-1") is not None
    assert store.find_key(key.hash) is None


def test_idempotency_records(store: Store) -> None:
    assert store.claim_idempotency("key-1", "idem-1", "body-a").state == "started"
    assert store.claim_idempotency("key-1", "idem-1", "body-a").state == "in_progress"
    assert store.claim_idempotency("key-1", "idem-1", "body-b").state == "mismatch"
    assert store.claim_idempotency("key-2", "idem-1", "body-b").state == "started"  # another key's namespace
    response = StoredResponse(200, '{"id": "gen-1"}', "gen-1")
    store.complete_idempotency("key-1", "idem-1", "body-a", response)
    replay = store.claim_idempotency("key-1", "idem-1", "body-a")
    assert replay.state == "completed" and replay.response == response
    assert store.claim_idempotency("key-1", "idem-1", "body-b").state == "mismatch"

    assert store.claim_idempotency("key-1", "idem-2", "body-a").state == "started"
    store.release_idempotency("key-1", "idem-2", "body-a")
    assert store.claim_idempotency("key-1", "idem-2", "body-a").state == "started"


def test_an_abandoned_in_progress_claim_expires(store: Store) -> None:
    # A claim within its TTL is in progress (a TTL no busy machine can outrun between two calls) ...
    assert store.claim_idempotency("key-1", "idem-1", "body-a", in_progress_ttl=600).state == "started"
    assert store.claim_idempotency("key-1", "idem-1", "body-a").state == "in_progress"
    # ... and one past it is free to claim again (sleeping only makes sure it is past).
    assert store.claim_idempotency("key-1", "idem-2", "body-a", in_progress_ttl=0.001).state == "started"
    time.sleep(1.1)  # Powertools compares whole milliseconds and seconds
    assert store.claim_idempotency("key-1", "idem-2", "body-a").state == "started"


def test_endpoint_health_is_shared_through_the_store(store: Store) -> None:
    """One instance publishes its view; another merges it; ledger reads never see the health row."""
    first, second = HealthBoard(), HealthBoard()
    first.record_failure("openai/gpt-4o")
    first.record_success("groq/llama", 120.0)
    first.record_speed("groq/llama", 80.0, 250.0)
    store.save_health(first.snapshot())
    second.merge(store.load_health())
    assert second.failed_recently("openai/gpt-4o")
    groq = second.get("groq/llama")
    assert groq is not None
    assert (groq.latency_ms, groq.first_token_ms, groq.tokens_per_second) == (120.0, 80.0, 250.0)
    second.merge(store.load_health())  # merging the same view again changes nothing
    assert second.get("groq/llama") == groq
    assert store.query_generations(None) == []
    assert store.get_generation("_endpoint-health") is None


def test_image_counts_round_trip_and_older_rows_read_as_none(store: Store) -> None:
    """`num_media_completion` (images generated) is kept; a row written before the field existed reads as 0."""
    _, key = store.create_key("k")
    store.record_generation(generation(key.hash, "gen-img", "0.07", num_media_completion=3))
    assert store.get_generation("gen-img") == generation(key.hash, "gen-img", "0.07", num_media_completion=3)
    assert [r.num_media_completion for r in store.query_generations(key.hash)] == [3]
    old = json.loads(encode_generation(generation(key.hash, "gen-old", "0.01", created_at=NOW + 1)))
    del old["num_media_completion"]
    write_raw_row(store, key.hash, "gen-old", NOW + 1, json.dumps(old))
    read = store.get_generation("gen-old")
    assert read is not None and read.num_media_completion == 0 and read.cost == D("0.01")


def write_raw_row(store: Store, key_hash: str, gen_id: str, created_at: float, record: str) -> None:
    """A ledger row as an older version wrote it (the record JSON as is)."""
    if isinstance(store, SQLiteStore):
        store._db.execute("INSERT INTO generations (id, key_hash, created_at, record) VALUES (?, ?, ?, ?)",
                          (gen_id, key_hash, created_at, record))
        return
    assert isinstance(store, DynamoDBStore)
    store.client.put_item(TableName=store.usage_table, Item={
        "id": {"S": gen_id}, "key_hash": {"S": key_hash}, "created_at": {"N": str(created_at)},
        "record": {"S": record}})
