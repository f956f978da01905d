"""GET /key's `usage_daily` / `usage_weekly` / `usage_monthly`: spend in the current UTC day, week (Monday to
Sunday) and month, as OpenRouter's current-key response reports them (its API reference: "for the current UTC
day", "current UTC week (Monday-Sunday)", "current UTC month")."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from lambdarouter.admin.usage import period_spend, periods_since
from lambdarouter.store import GenerationRecord

BASE = GenerationRecord(
    id="g", key_hash="k", created_at=0.0, model_requested="openai/gpt-4o", model="openai/gpt-4o",
    provider="openai", streamed=False, status="success", finish_reason="stop", native_finish_reason="stop",
    prompt_tokens=1, completion_tokens=1, cached_tokens=0, cache_write_tokens=0, reasoning_tokens=0,
    cost=Decimal(0), latency_ms=1, first_token_ms=1, attempts=(),
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def spent(when: str, cost: str) -> GenerationRecord:
    return dataclasses.replace(BASE, created_at=at(when), cost=Decimal(cost))


def test_spend_per_current_utc_day_week_and_month() -> None:
    now = at("2026-12-02T10:00:00")  # a Wednesday: its week began Monday 2026-11-30, in the previous month
    assert periods_since(now) == at("2026-11-30T00:00:00")  # the week's start is earlier than the month's
    rows = [spent("2026-11-30T00:00:00", "0.5"),   # Monday 00:00: this week, last month
            spent("2026-12-01T00:00:00", "0.25"),  # the 1st: this week and month
            spent("2026-12-02T00:00:00", "0.125"),  # today from midnight
            spent("2026-12-02T09:59:59", "0.0625")]
    assert period_spend(rows, now) == {"daily": Decimal("0.1875"), "weekly": Decimal("0.9375"),
                                       "monthly": Decimal("0.4375")}


def test_nothing_spent_is_zero_in_every_period() -> None:
    assert period_spend([], at("2026-11-24T12:00:00")) == dict.fromkeys(("daily", "weekly", "monthly"), Decimal(0))
