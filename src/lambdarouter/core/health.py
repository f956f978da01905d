"""Recent outcomes of each endpoint, feeding the routing order.

Each process keeps its own view, updated after every attempt at no I/O cost. Sharing it across Lambda
instances goes through the store off the hot path: a process publishes its view and reads the merged one at
most every `SYNC_SECONDS`, from a background task after a response was sent (see `service`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

# An endpoint whose latest outcome is a failure within this window is tried after the healthy ones.
FAILURE_WINDOW_SECONDS = 60.0
SYNC_SECONDS = 30.0
# Weight of the newest sample in the moving averages: recent minutes matter, one outlier does not.
ALPHA = 0.3

EndpointKey = str  # "host/upstream_id"


def endpoint_key(host: str, upstream_id: str) -> EndpointKey:
    return f"{host}/{upstream_id}"


class EndpointStats(Struct):
    """Moving averages and the time of the latest success and failure (wall clock, to merge across hosts)."""

    latency_ms: float | None = None
    first_token_ms: float | None = None
    tokens_per_second: float | None = None
    last_success: float = 0.0
    last_failure: float = 0.0

    def failed_recently(self, now: float) -> bool:
        return self.last_failure > self.last_success and now - self.last_failure < FAILURE_WINDOW_SECONDS

    def merge(self, other: EndpointStats) -> None:
        """Another instance's view (or the store's merged one, which may include ours).

        Event times take the newest, so merging twice changes nothing; averages meet halfway, so every
        instance's recent experience counts without keeping one row per instance.
        """
        for name in ("latency_ms", "first_token_ms", "tokens_per_second"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                setattr(self, name, theirs if mine is None else (mine + theirs) / 2)
        self.last_success = max(self.last_success, other.last_success)
        self.last_failure = max(self.last_failure, other.last_failure)


STAT_FIELDS = EndpointStats.__struct_fields__


def _average(old: float | None, new: float | None) -> float | None:
    if new is None:
        return old
    return new if old is None else old + ALPHA * (new - old)


class HealthBoard:
    def __init__(self) -> None:
        self.stats: dict[EndpointKey, EndpointStats] = {}
        self.last_sync = 0.0

    def get(self, key: EndpointKey) -> EndpointStats | None:
        return self.stats.get(key)

    def record_success(self, key: EndpointKey, latency_ms: float) -> None:
        """An attempt answered (the whole answer, or a stream's first bytes)."""
        stats = self.stats.setdefault(key, EndpointStats())
        stats.latency_ms = _average(stats.latency_ms, latency_ms)
        stats.last_success = time.time()

    def record_speed(self, key: EndpointKey, first_token_ms: float | None, tokens_per_second: float | None) -> None:
        """How fast a finished generation produced: feeds `sort: latency` / `throughput` and `:nitro`."""
        stats = self.stats.setdefault(key, EndpointStats())
        stats.first_token_ms = _average(stats.first_token_ms, first_token_ms)
        stats.tokens_per_second = _average(stats.tokens_per_second, tokens_per_second)

    def record_failure(self, key: EndpointKey) -> None:
        stats = self.stats.setdefault(key, EndpointStats())
        stats.last_failure = time.time()

    def failed_recently(self, key: EndpointKey) -> bool:
        stats = self.stats.get(key)
        return stats is not None and stats.failed_recently(time.time())

    def sync_due(self) -> bool:
        return time.monotonic() - self.last_sync >= SYNC_SECONDS

    def snapshot(self) -> dict[EndpointKey, dict[str, float | None]]:
        return {key: {name: getattr(stats, name) for name in STAT_FIELDS} for key, stats in self.stats.items()}

    def merge(self, rows: Mapping[EndpointKey, Mapping[str, Any]]) -> None:
        """Fold in the view other instances published (rows as `snapshot()` writes them)."""
        for key, row in rows.items():
            known = {name: row[name] for name in STAT_FIELDS if name in row}
            try:
                theirs = EndpointStats(**known)
            except TypeError:
                continue  # a row from an incompatible version: ignore it, health is advisory
            self.stats.setdefault(key, EndpointStats()).merge(theirs)
        self.last_sync = time.monotonic()
