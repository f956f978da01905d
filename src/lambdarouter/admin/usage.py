"""Usage reports over the ledger: totals per key, model or provider, and time series for the dashboard.

`lambdarouter usage` (admin/cli.py) and GET /usage (http/usage.py) read the same rows through these functions,
so the terminal and the dashboard cannot disagree about what a key spent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args

from lambdarouter.admin.keys import iso
from lambdarouter.store.model import GenerationRecord, period_start

GroupBy = Literal["key", "model", "provider"]
GROUP_BY: tuple[str, ...] = get_args(GroupBy)
Bucket = Literal["hour", "day"]
BUCKET_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}
MAX_BUCKETS = 2000  # a year of days or ~12 weeks of hours: enough for any chart a person reads


def group_of(record: GenerationRecord, by: str, key_names: Mapping[str, str]) -> str:
    """The row's group: `name hash-prefix` for keys (names are not unique), the served model, the provider."""
    if by == "key":
        return f"{key_names.get(record.key_hash, '(deleted)')} {record.key_hash[:12]}"
    if by == "model":
        return record.model or record.model_requested
    return record.provider or "(none)"


def percentile(values: Sequence[int], fraction: float) -> int | None:
    """Nearest-rank percentile (no interpolation: every answer is a latency that really happened)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


@dataclass
class Tally:
    """Counters over a set of ledger rows."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    images: int = 0  # images generated (chat image output and /images/generations)
    cost: Decimal = Decimal(0)
    errors: int = 0
    latencies: list[int] = field(default_factory=list)
    first_tokens: list[int] = field(default_factory=list)

    def add(self, record: GenerationRecord) -> None:
        self.requests += 1
        self.prompt_tokens += record.prompt_tokens
        self.completion_tokens += record.completion_tokens
        self.images += record.num_media_completion
        self.cost += record.cost
        # A client that hung up ("aborted") is not a gateway or provider failure.
        self.errors += record.status == "error"
        self.latencies.append(record.latency_ms)
        if record.first_token_ms is not None:
            self.first_tokens.append(record.first_token_ms)

    def counts(self) -> dict[str, Any]:
        return {"requests": self.requests, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "tokens": self.prompt_tokens + self.completion_tokens,
                "images": self.images, "cost": self.cost, "errors": self.errors}

    def summary(self) -> dict[str, Any]:
        """Counts plus p50/p95 latency and time to first token, in milliseconds (null without data)."""
        return {**self.counts(),
                "latency_p50": percentile(self.latencies, 0.5), "latency_p95": percentile(self.latencies, 0.95),
                "ttft_p50": percentile(self.first_tokens, 0.5), "ttft_p95": percentile(self.first_tokens, 0.95)}


def by_group(records: Iterable[GenerationRecord], by: str, key_names: Mapping[str, str]) -> dict[str, Tally]:
    """Tallies per group, most expensive first (then most requests)."""
    tallies: dict[str, Tally] = {}
    for record in records:
        tallies.setdefault(group_of(record, by, key_names), Tally()).add(record)
    return dict(sorted(tallies.items(), key=lambda item: (item[1].cost, item[1].requests), reverse=True))


def bucket_starts(since: float, until: float, bucket: str) -> list[float]:
    """Bucket starts covering [since, until), aligned to UTC hours or days."""
    step = BUCKET_SECONDS[bucket]
    first = since - since % step
    count = math.ceil((until - first) / step)
    if count > MAX_BUCKETS:
        raise ValueError(f"that period has {count} {bucket}s; at most {MAX_BUCKETS} fit one chart")
    return [first + i * step for i in range(max(count, 0))]


def money(tally: dict[str, Any]) -> dict[str, Any]:
    """Decimal cost as a JSON number of USD (as the key management API reports money)."""
    return {**tally, "cost": float(tally["cost"])}


def time_series(records: Sequence[GenerationRecord], since: float, until: float, bucket: str, by: str,
                key_names: Mapping[str, str]) -> dict[str, Any]:
    """GET /usage: totals, per-group totals, and per-bucket metrics with per-group counts, as JSON."""
    starts = bucket_starts(since, until, bucket)
    step = BUCKET_SECONDS[bucket]
    first = starts[0] if starts else since
    buckets: list[list[GenerationRecord]] = [[] for _ in starts]
    for record in records:
        index = int((record.created_at - first) // step)
        if 0 <= index < len(buckets):
            buckets[index].append(record)
    total = Tally()
    for record in records:
        total.add(record)
    series = []
    for start, rows in zip(starts, buckets, strict=True):
        whole = Tally()
        for record in rows:
            whole.add(record)
        per_group = {name: money(t.counts()) for name, t in by_group(rows, by, key_names).items()}
        series.append({"start": iso(start), **money(whole.summary()), "groups": per_group})
    groups = [{"group": name, **money(t.summary())} for name, t in by_group(records, by, key_names).items()]
    return {"since": iso(since), "until": iso(until), "bucket": bucket, "by": by, "totals": money(total.summary()),
            "groups": groups, "series": series}


PERIODS = ("daily", "weekly", "monthly")


def periods_since(now: float) -> float:
    """The earliest start of the current UTC day, week and month: the ledger rows `period_spend` needs."""
    return min(period_start(period, now) for period in PERIODS)


def period_spend(records: Iterable[GenerationRecord], now: float) -> dict[str, Decimal]:
    """Spend in the current UTC day, week (Monday to Sunday) and month, as OpenRouter's /key reports it
    (`usage_daily`, `usage_weekly`, `usage_monthly`), from the ledger rows since `periods_since(now)`."""
    starts = {period: period_start(period, now) for period in PERIODS}
    spend = dict.fromkeys(PERIODS, Decimal(0))
    for record in records:
        for period, start in starts.items():
            if record.created_at >= start:
                spend[period] += record.cost
    return spend
