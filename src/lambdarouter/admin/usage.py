"""Usage reports from the store's aggregates: totals per key, model or provider, and time series for the dashboard.

`lambdarouter usage` (admin/cli.py) and GET /usage (http/usage.py) shape the same aggregates (`Ledger.usage`,
store/summary.py) through these functions, so the terminal and the dashboard cannot disagree about what a key
spent. The figures are per whole UTC hour or day: a report covers the buckets holding its period.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, get_args

from lambdarouter.admin.keys import iso
from lambdarouter.store.summary import BUCKET_SECONDS, Counters, UsageRow, bucket_start, percentile

GroupBy = Literal["key", "model", "provider"]
GROUP_BY: tuple[str, ...] = get_args(GroupBy)
MAX_BUCKETS = 2000  # a year of days or ~12 weeks of hours: enough for any chart a person reads

__all__ = ["BUCKET_SECONDS", "GROUP_BY", "MAX_BUCKETS", "by_group", "counts", "time_series"]


def group_of(row: UsageRow, by: str, key_names: Mapping[str, str]) -> str:
    """The row's group: `name hash-prefix` for keys (names are not unique), the model, the provider."""
    if by == "key":
        return f"{key_names.get(row.key_hash, '(deleted)')} {row.key_hash[:12]}"
    if by == "model":
        return row.model
    return row.provider or "(none)"


def counts(counters: Counters) -> dict[str, Any]:
    """The counts of a report line, cost as a JSON number of USD (as the key management API reports money)."""
    return {"requests": counters.requests, "prompt_tokens": counters.prompt_tokens,
            "completion_tokens": counters.completion_tokens,
            "tokens": counters.prompt_tokens + counters.completion_tokens, "images": counters.images,
            "cost": float(counters.cost), "errors": counters.errors}


def summary(counters: Counters) -> dict[str, Any]:
    """Counts plus p50/p95 latency and time to first token, in milliseconds (null without data)."""
    return {**counts(counters),
            "latency_p50": percentile(counters.latency, 0.5), "latency_p95": percentile(counters.latency, 0.95),
            "ttft_p50": percentile(counters.ttft, 0.5), "ttft_p95": percentile(counters.ttft, 0.95)}


def total(rows: Iterable[UsageRow]) -> Counters:
    whole = Counters()
    for row in rows:
        whole.merge(row.counters)
    return whole


def by_group(rows: Iterable[UsageRow], by: str, key_names: Mapping[str, str]) -> dict[str, Counters]:
    """Counters per group, most expensive first (then most requests)."""
    groups: dict[str, Counters] = {}
    for row in rows:
        groups.setdefault(group_of(row, by, key_names), Counters()).merge(row.counters)
    return dict(sorted(groups.items(), key=lambda item: (item[1].cost, item[1].requests), reverse=True))


def bucket_starts(since: float, until: float, bucket: str) -> list[float]:
    """Bucket starts covering [since, until), aligned to UTC hours or days."""
    step = BUCKET_SECONDS[bucket]
    first = bucket_start(bucket, since)
    count = math.ceil((until - first) / step)
    if count > MAX_BUCKETS:
        raise ValueError(f"that period has {count} {bucket}s; at most {MAX_BUCKETS} fit one chart")
    return [first + i * step for i in range(max(count, 0))]


def time_series(rows: Sequence[UsageRow], since: float, until: float, bucket: str, by: str,
                key_names: Mapping[str, str]) -> dict[str, Any]:
    """GET /usage: totals, per-group totals, and per-bucket metrics with per-group counts, as JSON."""
    starts = bucket_starts(since, until, bucket)
    in_bucket: dict[float, list[UsageRow]] = {start: [] for start in starts}
    for row in rows:
        if row.start in in_bucket:
            in_bucket[row.start].append(row)
    series = [{"start": iso(start), **summary(total(chosen)),
               "groups": {name: counts(c) for name, c in by_group(chosen, by, key_names).items()}}
              for start, chosen in in_bucket.items()]
    groups = [{"group": name, **summary(c)} for name, c in by_group(rows, by, key_names).items()]
    return {"since": iso(starts[0] if starts else since), "until": iso(until), "bucket": bucket, "by": by,
            "totals": summary(total(rows)), "groups": groups, "series": series}
