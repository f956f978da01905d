"""Medians across the rounds of a run: every figure of the latency and throughput phases, leaf by leaf."""

from __future__ import annotations

import statistics
from typing import Any


def median_of(rounds: list[Any]) -> Any:
    """The rounds' common shape with each number replaced by its median across the rounds that have it.

    Dicts merge key by key, lists of the same length item by item; anything else (text, flags) is the first
    round's. Counts stay whole numbers where every round's was one."""
    first = rounds[0]
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for r in rounds if isinstance(r, dict) for k in r))
        return {k: median_of([r[k] for r in rounds if isinstance(r, dict) and k in r]) for k in keys}
    if isinstance(first, list) and all(isinstance(r, list) and len(r) == len(first) for r in rounds):
        return [median_of([r[i] for r in rounds]) for i in range(len(first))]
    numbers = [r for r in rounds if isinstance(r, int | float) and not isinstance(r, bool)]
    if numbers and len(numbers) == len(rounds):
        middle = statistics.median(numbers)
        if all(isinstance(n, int) for n in numbers) and float(middle).is_integer():
            return int(middle)
        return round(middle, 4)
    return first
