"""One behaviour, two stores: the ledger, its usage aggregates and the request log's pages, against SQLite and
DynamoDB (moto) alike (the `store` fixture, tests/store_fixtures.py)."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from lambdarouter.aws.client import AwsError
from lambdarouter.store import InvalidCursor, Store, StoreUnavailable
from lambdarouter.store.codec import encode_generation
from lambdarouter.store.cursor import encode_cursor
from lambdarouter.store.dynamodb import DynamoDBStore
from lambdarouter.store.model import GenerationRecord, Hold, KeySettings
from lambdarouter.store.sqlite import SQLiteStore
from lambdarouter.store.summary import Counters, UsageRow
from tests.store_fixtures import NOW, generation
from tests.stores import all_generations

D = Decimal
HOUR, DAY = 3600.0, 86400.0
pytestmark = pytest.mark.anyio


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


async def test_settle_writes_one_row_once(store: Store) -> None:
    _, key = await store.create_key("k")
    row = generation(key.hash, "gen-1", "0.25", upstream_id="chatcmpl-9", usage_estimated=True)
    assert await store.settle(row, None, NOW)
    assert not await store.settle(row, None, NOW)
    assert await store.get_generation("gen-1") == row
    assert await store.get_generation("gen-missing") is None
    assert [r.id for r in await all_generations(store, key.hash)] == ["gen-1"]


async def test_settle_after_the_key_was_deleted_keeps_the_ledger_row_and_its_counts(store: Store) -> None:
    _, key = await store.create_key("k", KeySettings("k", limit=D("1")))
    await store.reserve(key, Hold("gen-1", D("0.5"), NOW + 600), NOW)
    await store.delete_key(key.hash)
    assert await store.settle(generation(key.hash, "gen-1", "0.1"), Hold("gen-1", D("0.5"), NOW + 600), NOW)
    assert await store.get_generation("gen-1") is not None
    assert await store.find_key(key.hash) is None
    [row] = await store.usage(NOW - HOUR, NOW + HOUR, "hour")
    assert (row.key_hash, row.counters.requests, row.counters.cost) == (key.hash, 1, D("0.1"))


def log_rows() -> list[GenerationRecord]:
    """Two keys; seven rows in one second (ledger times are whole seconds), others around it, one of the
    previous month (the log walks back months from today on DynamoDB, so these are recent rows)."""
    second = float(int(time.time()))
    month_start = datetime.fromtimestamp(second, UTC).replace(day=1, hour=0, minute=0, second=0).timestamp()
    rows = [generation("a" * 64 if i % 2 else "b" * 64, f"gen-same-{i}", "0.01", created_at=second)
            for i in range(7)]
    rows += [generation("a" * 64, "gen-later", "0.01", created_at=second + 1),
             generation("b" * 64, "gen-earlier", "0.01", created_at=second - 1),
             generation("a" * 64, "gen-last-month", "0.01", created_at=month_start - 2 * DAY)]
    return rows


def newest_first(rows: list[GenerationRecord]) -> list[str]:
    return [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


@pytest.mark.parametrize("key_hash", [None, "a" * 64])
async def test_the_request_log_pages_newest_first_without_gaps(store: Store, key_hash: str | None) -> None:
    rows = log_rows()
    for row in rows:
        assert await store.settle(row, None, NOW)
    expected = newest_first([r for r in rows if key_hash in (None, r.key_hash)])
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(len(expected)):
        page = await store.generations(key_hash, 3, cursor)
        assert 0 < len(page.records) <= 3
        seen += [r.id for r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected  # every row once, in order; the last page says there is no next
    whole = await store.generations(key_hash, len(expected))
    assert [r.id for r in whole.records] == expected and whole.next_cursor is None


@pytest.mark.parametrize("cursor", ["not base64 at all!", encode_cursor({"a": 1}), encode_cursor([1, 2, 3]),
                                    encode_cursor(["x", "y"])])
async def test_a_cursor_the_store_did_not_hand_out_is_refused(store: Store, cursor: str) -> None:
    _, key = await store.create_key("k")
    await store.settle(generation(key.hash, "gen-1", "0.01"), None, NOW)
    with pytest.raises(InvalidCursor):
        await store.generations(None, 10, cursor)


async def test_settles_are_counted_per_hour_and_day(store: Store) -> None:
    _, a = await store.create_key("a")
    _, b = await store.create_key("b")
    hour = at("2031-03-12T15:00:00")
    rows = [generation(a.hash, "g1", "0.5", created_at=hour + 10, latency_ms=812, first_token_ms=40),
            generation(a.hash, "g2", "0.25", created_at=hour + 20, latency_ms=95, first_token_ms=None,
                       status="error", num_media_completion=2),
            generation(a.hash, "g3", "1", created_at=hour + 30, model="anthropic/claude-sonnet-4.5",
                       provider="anthropic", latency_ms=1234),
            generation(b.hash, "g4", "0.125", created_at=hour + HOUR + 5, latency_ms=812),
            generation(a.hash, "g5", "2", created_at=hour - DAY, model=None, provider=None,
                       model_requested="openai/gpt-4o-mini", status="aborted")]
    for row in rows:
        assert await store.settle(row, None, NOW)
    assert not await store.settle(rows[0], None, NOW)  # a retried settle is not counted twice

    hours = {(r.start, r.key_hash, r.model, r.provider): r.counters
             for r in await store.usage(hour, hour + 2 * HOUR, "hour")}
    assert hours == {
        (hour, a.hash, "openai/gpt-4o", "openai"): Counters(2, 20, 40, 2, 1, D("0.75"), {810: 1, 95: 1}, {40: 1}),
        (hour, a.hash, "anthropic/claude-sonnet-4.5", "anthropic"): Counters(1, 10, 20, 0, 0, D("1"), {1200: 1},
                                                                             {5: 1}),
        (hour + HOUR, b.hash, "openai/gpt-4o", "openai"): Counters(1, 10, 20, 0, 0, D("0.125"), {810: 1}, {5: 1})}
    assert [r.start for r in await store.usage(hour + 1, hour + HOUR, "hour")] == [hour, hour]  # since rounds down

    days = await store.usage(at("2031-03-11T00:00:00"), at("2031-03-13T00:00:00"), "day")
    per_day = {(datetime.fromtimestamp(r.start, UTC).day, r.key_hash, r.model): r.counters.cost for r in days}
    assert per_day == {(11, a.hash, "openai/gpt-4o-mini"): D("2"), (12, a.hash, "openai/gpt-4o"): D("0.75"),
                       (12, b.hash, "openai/gpt-4o"): D("0.125"), (12, a.hash, "anthropic/claude-sonnet-4.5"): D("1")}
    assert {r.provider for r in days if r.model == "openai/gpt-4o-mini"} == {""}  # no endpoint answered
    assert await store.usage(hour + 3 * HOUR, hour + 4 * HOUR, "hour") == []


async def test_a_keys_spend_this_utc_day_week_and_month(store: Store) -> None:
    """GET /key's usage_daily / usage_weekly / usage_monthly. NOW is Wednesday 2031-03-12: its week began
    Monday 03-10; 2031-03-01 is in the month but not the week; 02-28 in neither."""
    _, key = await store.create_key("k")
    _, other = await store.create_key("other")
    for i, (when, cost) in enumerate([("2031-02-28T23:59:59", "8"), ("2031-03-01T00:00:00", "4"),
                                      ("2031-03-10T00:00:00", "2"), ("2031-03-12T00:00:00", "1"),
                                      ("2031-03-12T15:29:59", "0.5")]):
        await store.settle(generation(key.hash, f"g{i}", cost, created_at=at(when)), None, NOW)
    await store.settle(generation(other.hash, "g-other", "16"), None, NOW)
    assert await store.period_spend(key.hash, NOW) == {"daily": D("1.5"), "weekly": D("3.5"), "monthly": D("7.5")}
    assert await store.period_spend("0" * 64, NOW) == dict.fromkeys(("daily", "weekly", "monthly"), D(0))
    # A week that began last month: Monday 2031-03-31 to Sunday 04-06, seen on Wednesday 04-02.
    await store.settle(generation(key.hash, "g-april", "0.25", created_at=at("2031-04-01T10:00:00")), None, NOW)
    await store.settle(generation(key.hash, "g-march", "0.125", created_at=at("2031-03-31T10:00:00")), None, NOW)
    assert await store.period_spend(key.hash, at("2031-04-02T12:00:00")) == {
        "daily": D(0), "weekly": D("0.375"), "monthly": D("0.25")}


async def test_image_counts_round_trip_and_older_rows_read_as_none(store: Store) -> None:
    """`num_media_completion` (images generated) is kept; a row written before the field existed reads as 0."""
    _, key = await store.create_key("k")
    await store.settle(generation(key.hash, "gen-img", "0.07", num_media_completion=3), None, NOW)
    assert await store.get_generation("gen-img") == generation(key.hash, "gen-img", "0.07", num_media_completion=3)
    assert [r.num_media_completion for r in await all_generations(store, key.hash)] == [3]
    old = json.loads(encode_generation(generation(key.hash, "gen-old", "0.01", created_at=NOW + 1)))
    del old["num_media_completion"]
    write_raw_row(store, key.hash, "gen-old", NOW + 1, json.dumps(old))
    read = await store.get_generation("gen-old")
    assert read is not None and read.num_media_completion == 0 and read.cost == D("0.01")


async def test_cache_ttl_and_server_tool_counts_round_trip_and_older_rows_read_as_none(store: Store) -> None:
    """One-hour cache writes and server-tool uses (Anthropic bills both apart) are kept with the row and its cost
    counted in the aggregates; a row written before the fields existed reads as 0."""
    _, key = await store.create_key("k")
    counts = {"cache_write_tokens": 4167, "cache_write_1h_tokens": 3000, "web_search_requests": 2,
              "web_fetch_requests": 1}
    row = generation(key.hash, "gen-tools", "0.0525", **counts)
    assert await store.settle(row, None, NOW)
    assert await store.get_generation("gen-tools") == row
    assert await all_generations(store, key.hash) == [row]
    [aggregate] = await store.usage(NOW - HOUR, NOW + HOUR, "hour")
    assert (aggregate.counters.requests, aggregate.counters.cost) == (1, D("0.0525"))
    old = json.loads(encode_generation(generation(key.hash, "gen-old", "0.01", created_at=NOW + 1)))
    for name in ("cache_write_1h_tokens", "web_search_requests", "web_fetch_requests"):
        del old[name]
    write_raw_row(store, key.hash, "gen-old", NOW + 1, json.dumps(old))
    read = await store.get_generation("gen-old")
    assert read is not None and (read.cache_write_1h_tokens, read.web_search_requests, read.web_fetch_requests) == (
        0, 0, 0)


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


class Throttled:
    """A DynamoDB client whose next `times` transactions fail as the client raises them once its retries are spent."""

    def __init__(self, client: Any, times: int) -> None:
        self.client, self.times = client, times

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name != "transact_write_items":
            return attribute

        def call(**kwargs: Any) -> Any:
            if self.times > 0:
                self.times -= 1
                raise AwsError("TransactWriteItems", "ThrottlingException", 400, "Rate exceeded")
            return attribute(**kwargs)

        return call


async def test_a_store_fault_is_store_unavailable_and_a_retry_settles_exactly(store: Store) -> None:
    """The database's own errors never leave the store (the HTTP layer maps StoreUnavailable alone); nothing of a
    failed settle was written, so the gateway's retry books the row, the charge and the counts once."""
    _, key = await store.create_key("k", KeySettings("k", limit=D("1")))
    hold = Hold("gen-1", D("0.5"), NOW + 600)
    assert (await store.reserve(key, hold, NOW)).ok
    row = generation(key.hash, "gen-1", "0.2")
    blocker: sqlite3.Connection | None = None
    if isinstance(store, SQLiteStore):  # another process holds the write lock (an open `sqlite3` shell)
        blocker = sqlite3.connect(store.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
    else:
        assert isinstance(store, DynamoDBStore)
        store._client = Throttled(store.client, 1)
    with pytest.raises(StoreUnavailable) as raised:
        await store.settle(row, hold, NOW)
    assert isinstance(raised.value.__cause__, sqlite3.OperationalError | AwsError)
    if blocker is not None:
        blocker.execute("ROLLBACK")
    assert await store.settle(row, hold, NOW)
    after = await store.find_key(key.hash)
    assert after is not None and (after.usage, after.remaining, after.holds) == (D("0.2"), D("0.8"), ())
    assert [r.id for r in await all_generations(store, key.hash)] == ["gen-1"]
    assert [(r.counters.requests, r.counters.cost) for r in await store.usage(NOW, NOW + 1, "hour")] == [(1, D("0.2"))]


def test_usage_rows_are_plain_data() -> None:
    row = UsageRow("hour", 0.0, "k", "m", "p", Counters())
    assert row.identity == ("hour", 0.0, "k", "m", "p")
