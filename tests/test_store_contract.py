"""One behaviour, two stores: keys, budgets, rate windows, idempotency and health, against SQLite and DynamoDB
(moto) alike (the `store` fixture, tests/store_fixtures.py). The ledger's half is tests/test_store_ledger.py."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from lambdarouter.core.health import HealthBoard
from lambdarouter.store import KEY_PREFIX, Store, hash_key
from lambdarouter.store.dynamodb import DynamoDBStore
from lambdarouter.store.model import Hold, KeySettings, RateLimit, StoredResponse, period_start
from lambdarouter.store.sqlite import SQLiteStore
from tests.store_fixtures import NOW, generation
from tests.stores import all_generations, wait

D = Decimal
pytestmark = pytest.mark.anyio


def persisted_text(store: Store) -> str:
    """Everything the store wrote, as text (the SQLite file and WAL, or every DynamoDB item)."""
    if isinstance(store, SQLiteStore):
        path = Path(store._db.execute("PRAGMA database_list").fetchone()[2])
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        return raw.decode("latin-1") + "\n".join(sqlite3.connect(path).iterdump())
    assert isinstance(store, DynamoDBStore)
    return "\n".join(repr(store.client.scan(TableName=t)["Items"])
                     for t in store.client.call("ListTables", {})["TableNames"])


async def check_invariant(store: Store, key_hash: str, now: float) -> None:
    """remaining == limit - period usage - outstanding holds (store/model.py)."""
    key = await store.find_key(key_hash)
    assert key is not None
    assert key.remaining == (key.limit or 0) - key.period_usage - sum((h.amount for h in key.holds), D(0))


async def test_key_crud(store: Store) -> None:
    settings = KeySettings("team-a", label="Team A", limit=D("12.50"), limit_reset="monthly",
                           expires_at=NOW + 86400, rate_limit=RateLimit(30, 60), allowed_models=("openai/*",))
    plaintext, record = await store.create_key("team-a", settings)
    assert plaintext.startswith(KEY_PREFIX) and record.hash == hash_key(plaintext)
    assert await store.find_key(record.hash) == record
    assert (record.label, record.limit, record.remaining, record.rate_limit) == ("Team A", D("12.50"), D("12.50"),
                                                                                 RateLimit(30, 60))
    _, second = await store.create_key("team-b")
    assert second.label.startswith(KEY_PREFIX) and second.limit is None
    assert [k.hash for k in await store.list_keys()] == [record.hash, second.hash]
    assert [k.hash for k in await store.list_keys(offset=1)] == [second.hash]
    assert [k.hash for k in await store.list_keys(limit=1)] == [record.hash]
    assert await store.has_keys()

    updated = await store.update_key(record.hash, {"name": "renamed", "disabled": True, "limit": D(20),
                                             "rate_limit": None, "allowed_models": None}, NOW)
    assert updated is not None
    assert (updated.name, updated.disabled, updated.limit, updated.rate_limit, updated.allowed_models) == (
        "renamed", True, D(20), None, None)
    assert updated.remaining == D("20") and updated.updated_at == NOW
    assert await store.find_key(record.hash) == updated
    assert await store.update_key("0" * 64, {"name": "x"}, NOW) is None
    with pytest.raises(ValueError, match="unknown key settings"):
        await store.update_key(record.hash, {"hash": "x"}, NOW)

    assert await store.delete_key(record.hash)
    assert await store.find_key(record.hash) is None
    assert not await store.delete_key(record.hash)
    assert [k.hash for k in await store.list_keys()] == [second.hash]


async def test_only_the_hash_is_stored(store: Store) -> None:
    plaintexts = [(await store.create_key(f"k{i}"))[0] for i in range(3)]
    await store.settle(generation(hash_key(plaintexts[0]), "gen-1", "0.01"), None, NOW)
    text = persisted_text(store)
    assert hash_key(plaintexts[0]) in text
    for plaintext in plaintexts:
        assert plaintext not in text
        assert plaintext[len(KEY_PREFIX):] not in text


async def test_reserve_and_settle(store: Store) -> None:
    _, key = await store.create_key("k", KeySettings("k", limit=D("1.00")))
    assert (await store.reserve(key, Hold("gen-a", D("0.40"), NOW + 600), NOW)).ok
    refused = await store.reserve(key, Hold("gen-b", D("0.70"), NOW + 600), NOW)
    assert not refused.ok and refused.available == D("0.60")
    await check_invariant(store, key.hash, NOW)

    assert await store.settle(generation(key.hash, "gen-a", "0.1"), Hold("gen-a", D("0.40"), NOW + 600), NOW)
    after = await store.find_key(key.hash)
    assert after is not None
    assert (after.remaining, after.usage, after.period_usage, after.holds) == (D("0.9"), D("0.1"), D("0.1"), ())
    # Settling again (a retried write) changes nothing.
    assert not await store.settle(generation(key.hash, "gen-a", "0.1"), Hold("gen-a", D("0.40"), NOW + 600), NOW)
    assert await store.find_key(key.hash) == after
    assert await store.get_generation("gen-a") == generation(key.hash, "gen-a", "0.1")
    await check_invariant(store, key.hash, NOW)


async def test_settling_an_unknown_hold_charges_without_releasing(store: Store) -> None:
    _, key = await store.create_key("k", KeySettings("k", limit=D("1")))
    assert await store.settle(generation(key.hash, "gen-x", "0.25"), Hold("gen-x", D("0.5"), NOW + 60), NOW)
    after = await store.find_key(key.hash)
    assert after is not None and (after.remaining, after.usage) == (D("0.75"), D("0.25"))


async def test_expired_holds_are_released_and_settle_once(store: Store) -> None:
    _, key = await store.create_key("k", KeySettings("k", limit=D("1")))
    orphan = Hold("gen-orphan", D("0.9"), NOW + 10)
    assert (await store.reserve(key, orphan, NOW)).ok
    assert not (await store.reserve(key, Hold("gen-2", D("0.5"), NOW + 600), NOW + 5)).ok
    # The orphan's function died: after its expiry the next reserve releases it.
    later = await store.reserve(key, Hold("gen-3", D("0.5"), NOW + 600), NOW + 11)
    assert later.ok and later.available == D("1")
    await check_invariant(store, key.hash, NOW + 11)
    # The orphan's generation still settles (late): charged once, its hold not added back twice.
    assert await store.settle(generation(key.hash, "gen-orphan", "0.2"), orphan, NOW + 12)
    after = await store.find_key(key.hash)
    assert after is not None and (after.usage, after.remaining) == (D("0.2"), D("0.3"))
    await check_invariant(store, key.hash, NOW + 12)


async def test_period_reset(store: Store) -> None:
    _, key = await store.create_key("k", KeySettings("k", limit=D("1"), limit_reset="daily"))
    assert (await store.reserve(key, Hold("gen-1", D("1"), NOW + 600), NOW)).ok
    await store.settle(generation(key.hash, "gen-1", "0.8"), Hold("gen-1", D("1"), NOW + 600), NOW)
    assert not (await store.reserve(key, Hold("gen-2", D("0.5"), NOW + 600), NOW + 60)).ok
    tomorrow = period_start("daily", NOW) + 86400 + 1
    fresh = await store.find_key(key.hash)
    assert fresh is not None and fresh.usage_in_period(tomorrow) == 0
    assert (await store.reserve(key, Hold("gen-3", D("0.5"), tomorrow + 600), tomorrow)).ok
    after = await store.find_key(key.hash)
    assert after is not None
    assert (after.usage, after.period_usage, after.remaining) == (D("0.8"), D(0), D("0.5"))
    assert after.period_start == period_start("daily", tomorrow)
    await check_invariant(store, key.hash, tomorrow)


async def test_period_boundaries_are_utc() -> None:
    assert datetime.fromtimestamp(period_start("daily", NOW), UTC) == datetime(2031, 3, 12, tzinfo=UTC)
    assert datetime.fromtimestamp(period_start("weekly", NOW), UTC) == datetime(2031, 3, 10, tzinfo=UTC)
    assert datetime.fromtimestamp(period_start("monthly", NOW), UTC) == datetime(2031, 3, 1, tzinfo=UTC)
    assert period_start(None, NOW) == 0


async def test_limit_changes_move_remaining(store: Store) -> None:
    _, key = await store.create_key("k", KeySettings("k", limit=D("1")))
    await store.reserve(key, Hold("gen-1", D("0.5"), NOW + 600), NOW)
    raised = await store.update_key(key.hash, {"limit": D("2")}, NOW)
    assert raised is not None and raised.remaining == D("1.5")
    unlimited = await store.update_key(key.hash, {"limit": None}, NOW)
    assert unlimited is not None and unlimited.limit is None and unlimited.limit_remaining(NOW) is None
    await check_invariant(store, key.hash, NOW)


async def test_keys_without_a_limit_still_count_usage(store: Store) -> None:
    _, key = await store.create_key("k")
    assert await store.settle(generation(key.hash, "gen-1", "0.003"), None, NOW)
    assert await store.settle(generation(key.hash, "gen-2", "0.004"), None, NOW)
    assert not await store.settle(generation(key.hash, "gen-2", "0.004"), None, NOW)
    after = await store.find_key(key.hash)
    assert after is not None and after.usage == D("0.007")


def test_concurrent_reservations_never_overspend(store: Store) -> None:
    """50 threads (each with its event loop, as 50 processes would be) ask at once for a budget that covers 10."""
    amount = D("0.0123")
    _, key = wait(store.create_key("k", KeySettings("k", limit=amount * 10)))
    results: dict[int, bool] = {}
    barrier = threading.Barrier(50)

    async def ask(i: int) -> None:
        hold = Hold(f"gen-{i:02}", amount, NOW + 600)
        results[i] = (await store.reserve(key, hold, NOW)).ok
        if results[i]:
            await store.settle(generation(key.hash, hold.id, str(amount)), hold, NOW)

    def in_thread(i: int) -> None:
        barrier.wait()
        anyio.run(ask, i)

    threads = [threading.Thread(target=in_thread, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(results.values()) == 10
    after = wait(store.find_key(key.hash))
    assert after is not None
    assert after.usage == amount * 10 and after.remaining == 0 and after.holds == ()
    ledger = wait(all_generations(store, key.hash))
    assert len(ledger) == 10 and sum(r.cost for r in ledger) == amount * 10


async def test_a_stale_record_is_checked_against_the_key_as_it_is(store: Store) -> None:
    """`reserve` gets the key as authenticated; spend and an operator's edits since then still count."""
    _, key = await store.create_key("k", KeySettings("k", limit=D("1")))
    assert (await store.reserve(key, Hold("gen-1", D("0.8"), NOW + 600), NOW)).ok
    assert not (await store.reserve(key, Hold("gen-2", D("0.5"), NOW + 600), NOW)).ok  # `key` still says 1 remaining
    await store.settle(generation(key.hash, "gen-1", "0.8"), Hold("gen-1", D("0.8"), NOW + 600), NOW)
    assert await store.update_key(key.hash, {"limit_reset": "daily"}, NOW) is not None
    tomorrow = period_start("daily", NOW) + 86400 + 1
    later = await store.reserve(key, Hold("gen-3", D("0.9"), tomorrow + 600), tomorrow)  # `key` says: no reset
    assert later.ok and later.available == D("1")
    await check_invariant(store, key.hash, tomorrow)
    await store.delete_key(key.hash)
    gone = await store.reserve(key, Hold("gen-4", D("0.1"), tomorrow + 600), tomorrow)
    assert (gone.ok, gone.available) == (False, D(0))


async def test_dynamodb_reserves_with_one_update_and_no_read(store: Store) -> None:
    if not isinstance(store, DynamoDBStore):
        pytest.skip("DynamoDB's request units")
    _, key = await store.create_key("k", KeySettings("k", limit=D("1")))
    calls: list[str] = []
    client = store.client

    class Recording:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(client, name)

    store._client = Recording()
    assert (await store.reserve(key, Hold("gen-1", D("0.4"), NOW + 600), NOW)).ok
    assert calls == ["update_item"]


async def test_rate_windows(store: Store) -> None:
    _, key = await store.create_key("k")
    limit = RateLimit(3, 60)
    start = float(int(NOW // 60) * 60)
    decisions = [await store.hit_rate_window(key.hash, limit, start + i) for i in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.reset_at == start + 60 and d.limit == 3 for d in decisions)
    following = await store.hit_rate_window(key.hash, limit, start + 61)
    assert following.allowed and following.remaining == 2 and following.reset_at == start + 120
    other = (await store.create_key("other"))[1]
    assert (await store.hit_rate_window(other.hash, limit, start + 61)).remaining == 2


def test_concurrent_rate_window(store: Store) -> None:
    _, key = wait(store.create_key("k"))
    allowed: list[bool] = []
    barrier = threading.Barrier(20)

    async def hit() -> None:
        allowed.append((await store.hit_rate_window(key.hash, RateLimit(5, 60), NOW)).allowed)

    def in_thread() -> None:
        barrier.wait()
        anyio.run(hit)

    threads = [threading.Thread(target=in_thread) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert allowed.count(True) == 5


async def test_idempotency_records(store: Store) -> None:
    assert (await store.claim_idempotency("key-1", "idem-1", "body-a")).state == "started"
    assert (await store.claim_idempotency("key-1", "idem-1", "body-a")).state == "in_progress"
    assert (await store.claim_idempotency("key-1", "idem-1", "body-b")).state == "mismatch"
    assert (await store.claim_idempotency("key-2", "idem-1", "body-b")).state == "started"  # another key's namespace
    response = StoredResponse(200, '{"id": "gen-1"}', "gen-1")
    await store.complete_idempotency("key-1", "idem-1", "body-a", response)
    replay = await store.claim_idempotency("key-1", "idem-1", "body-a")
    assert replay.state == "completed" and replay.response == response
    assert (await store.claim_idempotency("key-1", "idem-1", "body-b")).state == "mismatch"

    assert (await store.claim_idempotency("key-1", "idem-2", "body-a")).state == "started"
    await store.release_idempotency("key-1", "idem-2", "body-a")
    assert (await store.claim_idempotency("key-1", "idem-2", "body-a")).state == "started"


async def test_an_abandoned_in_progress_claim_expires(store: Store) -> None:
    # A claim within its TTL is in progress (a TTL no busy machine can outrun between two calls) ...
    assert (await store.claim_idempotency("key-1", "idem-1", "body-a", in_progress_ttl=600)).state == "started"
    assert (await store.claim_idempotency("key-1", "idem-1", "body-a")).state == "in_progress"
    # ... and one past it is free to claim again (sleeping only makes sure it is past).
    assert (await store.claim_idempotency("key-1", "idem-2", "body-a", in_progress_ttl=0.001)).state == "started"
    await anyio.sleep(1.1)  # a real expiry (Powertools compares whole milliseconds and seconds)
    assert (await store.claim_idempotency("key-1", "idem-2", "body-a")).state == "started"


async def test_endpoint_health_is_shared_through_the_store(store: Store) -> None:
    """One instance publishes its view; another merges it; ledger reads never see the health row."""
    first, second = HealthBoard(), HealthBoard()
    first.record_failure("openai/gpt-4o")
    first.record_success("groq/llama", 120.0)
    first.record_speed("groq/llama", 80.0, 250.0)
    await store.save_health(first.snapshot())
    second.merge(await store.load_health())
    assert second.failed_recently("openai/gpt-4o")
    groq = second.get("groq/llama")
    assert groq is not None
    assert (groq.latency_ms, groq.first_token_ms, groq.tokens_per_second) == (120.0, 80.0, 250.0)
    second.merge(await store.load_health())  # merging the same view again changes nothing
    assert second.get("groq/llama") == groq
    assert await all_generations(store, None) == []
    assert await store.get_generation("_endpoint-health") is None
