"""GET /key's `usage_daily` / `usage_weekly` / `usage_monthly`: spend in the current UTC day, week (Monday to
Sunday) and month, as OpenRouter's current-key response reports them (its API reference: "for the current UTC
day", "current UTC week (Monday-Sunday)", "current UTC month"), summed from a key's day aggregates
(store/summary.py; both stores' reads of them: tests/test_store_ledger.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from lambdarouter.store.summary import Counters, UsageRow, period_spend, periods_since


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def spent(day: str, cost: str) -> UsageRow:
    return UsageRow("day", at(day), "k", "openai/gpt-4o", "openai", Counters(requests=1, cost=Decimal(cost)))


def test_spend_per_current_utc_day_week_and_month() -> None:
    now = at("2026-12-02T10:00:00")  # a Wednesday: its week began Monday 2026-11-30, in the previous month
    assert periods_since(now) == at("2026-11-30T00:00:00")  # the week's start is earlier than the month's
    rows = [spent("2026-11-30T00:00:00", "0.5"),   # Monday: this week, last month
            spent("2026-12-01T00:00:00", "0.25"),  # the 1st: this week and month
            spent("2026-12-02T00:00:00", "0.125")]  # today
    assert period_spend(rows, now) == {"daily": Decimal("0.125"), "weekly": Decimal("0.875"),
                                       "monthly": Decimal("0.375")}


def test_nothing_spent_is_zero_in_every_period() -> None:
    assert period_spend([], at("2026-11-24T12:00:00")) == dict.fromkeys(("daily", "weekly", "monthly"), Decimal(0))
