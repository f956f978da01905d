"""Summaries of samples in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence

PERCENTILES = (50, 90, 99)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = (len(sorted_values) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def summary(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99, mean, min, max (ms) and n of samples given in seconds."""
    values = sorted(s * 1000 for s in samples_s)
    out = {f"p{p}": round(percentile(values, p), 4) for p in PERCENTILES}
    out.update(mean=round(sum(values) / len(values), 4), min=round(values[0], 4), max=round(values[-1], 4),
               n=len(values))
    return out


def median(values: Sequence[float]) -> float:
    return percentile(sorted(values), 50)
