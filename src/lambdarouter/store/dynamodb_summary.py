"""The DynamoDB store's usage aggregates: one item per (hour or day, key, model, provider) in the summary
table, counted in each settle's own transaction, so they are exact whenever the ledger is.

Layout (partition key `pk`, sort key `sk`):

    hour items  pk = hour#<YYYY-MM>#<shard>   sk = <YYYY-MM-DDTHH> ␟ key ␟ model ␟ provider
    day items   pk = day#<YYYY-MM>#<shard>    sk = key ␟ <YYYY-MM-DD> ␟ model ␟ provider

A report of N hours reads the hour items of the months it spans (range-limited by `sk`); a report by day
reads whole months of day items; a key's spend this day, week and month (GET /key) reads that key's day
items of at most two months (range-limited by `sk`). Every read is bounded by the period and the
(key, model, provider) combinations active in it, whatever the size of the ledger.

Hot partitions: one month of every key's writes would share one partition key, and a partition takes
at most 1,000 write units a second (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
bp-partition-key-design.html). The key's hash spreads them over `SHARDS` partition keys (a report reads
each); one key's items stay in one shard, where its key item already bounds its write rate.
Cost: each item is an atomic ADD of under 1 KB (1 write unit, 2 inside the settle's transaction).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lambdarouter.store.dynamodb_items import plain, value
from lambdarouter.store.summary import Counters, UsageRow, bucket_label, bucket_start, period_spend, periods_since

SHARDS = 4
SEP = "\x1f"  # the unit separator: in no key hash, model id or provider slug
_PAST = " "  # sorts right after SEP: the upper bound of a `sk` prefix
DAY_SECONDS = 86400
# Hour items outlive any hour report (usage.MAX_BUCKETS hours, 83 days); day items the ledger (400 days).
EXPIRY_DAYS = {"hour": 100, "day": 400}
_COUNTS = ("requests", "prompt_tokens", "completion_tokens", "images", "errors")


def shard(text: str) -> int:
    return zlib.crc32(text.encode()) % SHARDS


def month_of(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m")


def months(since: float, until: float) -> list[str]:
    """Every `YYYY-MM` from the month of `since` to the month of `until` (inclusive)."""
    out, moment = [], datetime.fromtimestamp(since, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = month_of(until)
    while (label := moment.strftime("%Y-%m")) <= last:
        out.append(label)
        moment = moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return out


def _keys(bucket: str, start: float, key_hash: str, model: str, provider: str) -> tuple[str, str]:
    label = bucket_label(bucket, start)
    parts = (label, key_hash) if bucket == "hour" else (key_hash, label)
    return f"{bucket}#{month_of(start)}#{shard(key_hash)}", SEP.join((*parts, model, provider))


def summary_update(table: str, identity: tuple[str, float, str, str, str], counters: Counters) -> dict[str, Any]:
    """A transaction item adding `counters` to one aggregate (created on first use)."""
    bucket, start, key_hash, model, provider = identity
    pk, sk = _keys(*identity)
    names = {f"#{name}": name for name in _COUNTS} | {"#cost": "cost"}
    values: dict[str, Any] = {f":{name}": getattr(counters, name) for name in _COUNTS}
    values[":cost"] = counters.cost
    for prefix, histogram in (("l", counters.latency), ("t", counters.ttft)):
        for i, (bin_value, count) in enumerate(histogram.items()):
            names[f"#{prefix}{i}"], values[f":{prefix}{i}"] = f"{prefix}{bin_value}", count
    adds = ", ".join(f"{name} {name.replace('#', ':')}" for name in names)
    fixed = {"bucket": bucket, "start": start, "key_hash": key_hash, "model": model, "provider": provider,
             "expires_at": int(start) + EXPIRY_DAYS[bucket] * DAY_SECONDS}
    names |= {f"#{name}": name for name in fixed}
    values |= {f":{name}": v for name, v in fixed.items()}
    sets = ", ".join(f"#{name} = :{name}" for name in fixed)
    return {"Update": {"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                       "UpdateExpression": f"ADD {adds} SET {sets}", "ExpressionAttributeNames": names,
                       "ExpressionAttributeValues": {k: value(v) for k, v in values.items()}}}


def row_of(item: dict[str, Any]) -> UsageRow:
    attrs = plain(item)
    histograms: dict[str, dict[int, int]] = {"l": {}, "t": {}}
    for name, number in attrs.items():
        if name[:1] in histograms and name[1:].isdigit():
            histograms[name[:1]][int(name[1:])] = int(number)
    counts = {name: int(attrs.get(name, 0)) for name in _COUNTS}
    counters = Counters(**counts, cost=Decimal(attrs.get("cost", 0)), latency=histograms["l"], ttft=histograms["t"])
    return UsageRow(attrs["bucket"], float(attrs["start"]), attrs["key_hash"], attrs["model"], attrs["provider"],
                    counters)


def _query(client: Any, table: str, pk: str, low: str | None = None, high: str | None = None,
           consistent: bool = False) -> Iterator[UsageRow]:
    condition, values = "pk = :pk", {":pk": {"S": pk}}
    if low is not None and high is not None:
        condition += " AND sk BETWEEN :low AND :high"
        values |= {":low": {"S": low}, ":high": {"S": high}}
    for page in client.get_paginator("query").paginate(TableName=table, KeyConditionExpression=condition,
                                                       ExpressionAttributeValues=values, ConsistentRead=consistent):
        yield from (row_of(item) for item in page["Items"])


def usage_rows(client: Any, table: str, since: float, until: float, bucket: str) -> list[UsageRow]:
    # Nothing older than the items' expiry exists: "all time" (the CLI's default) reads at most 14 months.
    first = max(bucket_start(bucket, since), bucket_start(bucket, time.time() - EXPIRY_DAYS[bucket] * DAY_SECONDS))
    rows: list[UsageRow] = []
    for month in months(first, until):
        for number in range(SHARDS):
            pk = f"{bucket}#{month}#{number}"
            if bucket == "hour":  # the hours in range, by `sk`
                found = _query(client, table, pk, bucket_label(bucket, first), bucket_label(bucket, until) + _PAST)
            else:  # a month of days: the key leads `sk`, so the range is applied here
                found = _query(client, table, pk)
            rows.extend(row for row in found if first <= row.start < until)
    return sorted(rows, key=lambda r: r.identity)


def key_spend(client: Any, table: str, key_hash: str, now: float) -> dict[str, Decimal]:
    """GET /key's spend per current UTC day, week and month: the key's day items since the earliest start."""
    since, rows = periods_since(now), list[UsageRow]()
    low, high = f"{key_hash}{SEP}{bucket_label('day', since)}", f"{key_hash}{SEP}{bucket_label('day', now)}{_PAST}"
    for month in months(since, now):
        rows.extend(_query(client, table, f"day#{month}#{shard(key_hash)}", low, high, consistent=True))
    return period_spend(rows, now)
