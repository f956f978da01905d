"""Usage aggregates: what both stores keep per UTC hour and day for each (key, model, provider).

The ledger holds one row per generation; the reports (GET /usage, the CLI's `usage`) and a key's spend
per UTC day, week and month (GET /key) read these counters instead, so what they read is bounded by the
period asked and the (key, model, provider) combinations active in it, never by the size of the ledger. DynamoDB
updates them in the settle's own transaction (store/dynamodb_summary.py); SQLite rolls new ledger rows
into them before every read (store/sqlite_summary.py). Both add the same `Counters` of the same records.

Latency and time to first token are kept as histograms whose bins are the milliseconds rounded down to two
significant digits (exact below 100 ms): a percentile read from them is the nearest-rank value of the
requests themselves, to two significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, get_args

from msgspec import Struct, field

from lambdarouter.store.model import GenerationRecord, period_start

Bucket = Literal["hour", "day"]
BUCKETS: tuple[str, ...] = get_args(Bucket)
BUCKET_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}
PERIODS = ("daily", "weekly", "monthly")
ZERO = Decimal(0)


def bucket_start(bucket: str, moment: float) -> float:
    """The start of the UTC hour or day holding `moment` (epoch seconds)."""
    step = BUCKET_SECONDS[bucket]
    return float(math.floor(moment / step) * step)


def bucket_label(bucket: str, start: float) -> str:
    """`2031-03-12T15` for an hour, `2031-03-12` for a day: sortable text (DynamoDB sort keys)."""
    moment = datetime.fromtimestamp(start, UTC)
    return moment.strftime("%Y-%m-%dT%H" if bucket == "hour" else "%Y-%m-%d")


def histogram_bin(milliseconds: int) -> int:
    """The value rounded down to two significant digits (812 → 810, 12,345 → 12,000); exact below 100."""
    if milliseconds < 100:
        return max(milliseconds, 0)
    scale: int = 10 ** (len(str(milliseconds)) - 2)
    return milliseconds // scale * scale


def percentile(histogram: Mapping[int, int], fraction: float) -> int | None:
    """Nearest rank over a histogram (no interpolation: every answer is a value that really happened, to the
    histogram's precision); None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank, seen = max(math.ceil(fraction * total), 1), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # unreachable: the counts sum to `total`


def _add_counts(into: dict[int, int], counts: Mapping[int, int]) -> None:
    for value, count in counts.items():
        into[value] = into.get(value, 0) + count


class Counters(Struct):
    """Sums over a set of ledger rows."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    images: int = 0  # images generated (chat image output and /images/generations)
    errors: int = 0  # status "error"; a client that hung up ("aborted") is not a gateway or provider failure
    cost: Decimal = ZERO
    latency: dict[int, int] = field(default_factory=dict)  # histogram_bin(ms) → requests
    ttft: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, record: GenerationRecord) -> Counters:
        return cls(1, record.prompt_tokens, record.completion_tokens, record.num_media_completion,
                   int(record.status == "error"), record.cost, {histogram_bin(record.latency_ms): 1},
                   {histogram_bin(record.first_token_ms): 1} if record.first_token_ms is not None else {})

    def merge(self, other: Counters) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.images += other.images
        self.errors += other.errors
        self.cost += other.cost
        _add_counts(self.latency, other.latency)
        _add_counts(self.ttft, other.ttft)


def record_group(record: GenerationRecord) -> tuple[str, str]:
    """(model, provider) of a ledger row as the aggregates count it: the model served, else the one asked
    for (a request that failed before any endpoint answered); the provider, else ""."""
    return record.model or record.model_requested, record.provider or ""


class UsageRow(Struct, frozen=True):
    """One aggregate: the counters of a key's generations on one model and provider in one hour or day."""

    bucket: str  # "hour" | "day"
    start: float  # the bucket's start, epoch seconds (UTC-aligned)
    key_hash: str
    model: str
    provider: str
    counters: Counters

    @property
    def identity(self) -> tuple[str, float, str, str, str]:
        return self.bucket, self.start, self.key_hash, self.model, self.provider


def summarize(records: Iterable[GenerationRecord], buckets: Iterable[str] = BUCKETS) -> dict[
    tuple[str, float, str, str, str], Counters
]:
    """The aggregates' increments for a batch of ledger rows, by identity (see `UsageRow.identity`)."""
    out: dict[tuple[str, float, str, str, str], Counters] = {}
    chosen = tuple(buckets)
    for record in records:
        model, provider = record_group(record)
        for bucket in chosen:
            identity = (bucket, bucket_start(bucket, record.created_at), record.key_hash, model, provider)
            counters = out.get(identity)
            if counters is None:
                out[identity] = Counters.of(record)
            else:
                counters.merge(Counters.of(record))
    return out


def periods_since(now: float) -> float:
    """The earliest start of the current UTC day, week and month: the day aggregates `period_spend` needs."""
    return min(period_start(period, now) for period in PERIODS)


def period_spend(day_rows: Iterable[UsageRow], now: float) -> dict[str, Decimal]:
    """Spend in the current UTC day, week (Monday to Sunday) and month, as OpenRouter's GET /key reports it
    (`usage_daily`, `usage_weekly`, `usage_monthly`), from one key's day aggregates since `periods_since(now)`."""
    starts = {period: period_start(period, now) for period in PERIODS}
    spend = dict.fromkeys(PERIODS, ZERO)
    for row in day_rows:
        for period, start in starts.items():
            if row.start >= start:
                spend[period] += row.counters.cost
    return spend
