"""The records both stores keep: keys with their budget counters, holds, rate windows, generations.

Money is `Decimal` USD everywhere (never float) so that what a client is told, what the ledger holds and
what a key's usage sums to are the same numbers.

Budget bookkeeping on a key, the same on both stores:

    remaining = (limit or 0) - period_usage - sum(outstanding holds)

`remaining` is stored (DynamoDB conditions cannot do arithmetic, so "can this key afford X" must be one
comparison, `remaining >= X`). Every change keeps the equation true with a relative update:
a hold subtracts its amount, a settle adds the hold back and subtracts the real cost, a period reset adds
`period_usage` back, a limit change adds the difference. Expired holds (a function killed mid-request)
are swept: their amount is added back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any, Literal, cast, get_args

from msgspec import Struct, field
from msgspec.structs import replace

LimitReset = Literal["daily", "weekly", "monthly"]
LIMIT_RESETS: tuple[str, ...] = get_args(LimitReset)
GenerationStatus = Literal["success", "error", "aborted"]
ZERO = Decimal(0)

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The longest rate-limit window a key may set (a leap year): the admin API and the CLI refuse longer ones.
MAX_RATE_INTERVAL = 366 * 86400


def period_start(reset: str | None, now: float) -> float:
    """Start of the budget period holding `now`: UTC midnight, Monday 00:00 UTC or the 1st 00:00 UTC.

    OpenRouter: "Resets happen automatically at midnight UTC, and weeks are Monday through Sunday."
    Keys without a reset have one period that began at the epoch.
    """
    if reset is None:
        return 0.0
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if reset == "weekly":
        day -= timedelta(days=day.weekday())
    elif reset == "monthly":
        day = day.replace(day=1)
    return day.timestamp()


def parse_limit_reset(value: str | None) -> LimitReset | None:
    if value is None or value in ("", "none", "null"):
        return None
    if value not in LIMIT_RESETS:
        raise ValueError(f"limit_reset must be one of daily, weekly, monthly or none, not {value!r}")
    return cast(LimitReset, value)


class RateLimit(Struct, frozen=True):
    """`requests` per fixed window of `interval` seconds (reported as OpenRouter did: `{"requests", "interval"}`)."""

    requests: int
    interval: int = 60

    def __post_init__(self) -> None:
        if self.requests < 1 or self.interval < 1:
            raise ValueError("a rate limit needs at least 1 request per interval of at least 1 second")

    @property
    def interval_text(self) -> str:
        for unit in ("d", "h", "m"):
            if self.interval % _UNIT_SECONDS[unit] == 0:
                return f"{self.interval // _UNIT_SECONDS[unit]}{unit}"
        return f"{self.interval}s"

    @classmethod
    def parse_interval(cls, text: str) -> int:
        match = _INTERVAL.match(text)
        if match is None:
            raise ValueError(f"interval must look like 10s, 1m or 1h, not {text!r}")
        return int(match[1]) * _UNIT_SECONDS[match[2]]

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`"N/1m"` (the CLI's form): N requests per interval."""
        count, _, interval = text.partition("/")
        if not count.strip().isdigit():
            raise ValueError(f"rate limit must look like 60/1m, not {text!r}")
        return cls(int(count), cls.parse_interval(interval or "1m"))

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RateLimit:
        return cls(int(value["requests"]), cls.parse_interval(str(value.get("interval", "1m"))))

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "interval": self.interval_text}

    def window(self, now: float) -> tuple[float, float]:
        """The fixed window holding `now`: (start, end). A longer interval stored before intervals were capped
        counts in windows of the cap (integer arithmetic: a float division by a huge int overflows)."""
        interval = min(self.interval, MAX_RATE_INTERVAL)
        start = float(int(now) // interval * interval)
        return start, start + interval


class Hold(Struct, frozen=True):
    """Money set aside for one in-flight generation (its id is the generation id)."""

    id: str
    amount: Decimal
    expires_at: float


class KeySettings(Struct, frozen=True):
    """What an operator sets on a key; `None` means "not set" (no limit, never expires, any model)."""

    name: str
    label: str | None = None
    disabled: bool = False
    limit: Decimal | None = None
    limit_reset: LimitReset | None = None
    expires_at: float | None = None
    rate_limit: RateLimit | None = None
    allowed_models: tuple[str, ...] | None = None


SETTING_FIELDS = frozenset(
    {"name", "label", "disabled", "limit", "limit_reset", "expires_at", "rate_limit", "allowed_models"}
)


class KeyRecord(Struct, frozen=True):
    """A stored key: settings, the hash (never the plaintext) and a snapshot of its counters."""

    hash: str
    name: str
    label: str
    created_at: float
    disabled: bool = False
    limit: Decimal | None = None
    limit_reset: LimitReset | None = None
    expires_at: float | None = None
    rate_limit: RateLimit | None = None
    allowed_models: tuple[str, ...] | None = None
    updated_at: float | None = None
    usage: Decimal = ZERO  # all-time spend, USD
    period_usage: Decimal = ZERO  # spend since period_start
    period_start: float = 0.0
    remaining: Decimal = ZERO  # see the module docstring
    holds: tuple[Hold, ...] = field(default=())

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def usage_in_period(self, now: float) -> Decimal:
        """Spend in the current period (a period that rolled over but was not reset yet counts 0)."""
        return ZERO if self.period_start < period_start(self.limit_reset, now) else self.period_usage

    def outstanding(self, now: float) -> Decimal:
        return sum((h.amount for h in self.holds if h.expires_at > now), ZERO)

    def limit_remaining(self, now: float) -> Decimal | None:
        """What the key can still spend right now: limit - period spend - unexpired holds (never < 0)."""
        if self.limit is None:
            return None
        return max(self.limit - self.usage_in_period(now) - self.outstanding(now), ZERO)

    def allows_model(self, *model_ids: str) -> bool:
        """Whether any of the ids (requested, canonical) matches the allow list (`author/*` globs allowed)."""
        if self.allowed_models is None:
            return True
        bare = [m.partition(":")[0] for m in model_ids]
        return any(fnmatchcase(m, pattern) for m in bare for pattern in self.allowed_models)

    def settings(self) -> KeySettings:
        return KeySettings(self.name, self.label, self.disabled, self.limit, self.limit_reset, self.expires_at,
                           self.rate_limit, self.allowed_models)


def apply_changes(record: KeyRecord, changes: Mapping[str, Any], now: float) -> KeyRecord:
    """The record with operator changes applied (validated names; `None` clears a setting)."""
    unknown = set(changes) - SETTING_FIELDS
    if unknown:
        raise ValueError(f"unknown key settings: {sorted(unknown)}")
    if changes.get("name") is None and "name" in changes:
        raise ValueError("a key needs a name")
    updated = replace(record, **dict(changes), updated_at=now)
    if updated.label is None:
        updated = replace(updated, label=record.label)
    return updated


class RateDecision(Struct, frozen=True):
    """The outcome of counting one request against its key's current window."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window ends


class ReserveResult(Struct, frozen=True):
    ok: bool
    available: Decimal  # what the key could afford when asked (before this hold)


class GenerationRecord(Struct, frozen=True):
    """One ledger row per generation, written once, whatever happened."""

    id: str
    key_hash: str
    created_at: float
    model_requested: str
    model: str | None
    provider: str | None
    streamed: bool
    status: str  # GenerationStatus
    finish_reason: str | None
    native_finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost: Decimal
    latency_ms: int
    first_token_ms: int | None
    attempts: tuple[tuple[str, int, int], ...]  # (provider, status, latency ms) per attempt
    error: str | None = None
    upstream_id: str | None = None
    num_media_prompt: int = 0
    # Images generated: by chat (`modalities: ["image"]`) or /images/generations (OpenRouter's name).
    num_media_completion: int = 0
    # True when the provider never reported usage (a stream cut short): tokens were estimated.
    usage_estimated: bool = False
    # Set when the provider's usage claimed more than the request could cost (its reservation): what it claimed.
    # The row's cost is then the reservation, as the client was told (pricing.bounded).
    anomaly: str | None = None
    # Of `cache_write_tokens`, those written with a one-hour TTL (billed dearer than five-minute writes).
    cache_write_1h_tokens: int = 0
    # Searches and fetches a provider's server tools ran for the answer (Anthropic's `usage.server_tool_use`).
    web_search_requests: int = 0
    web_fetch_requests: int = 0


class StoredResponse(Struct, frozen=True):
    """A response kept for idempotent replay."""

    status: int
    body: str
    generation_id: str | None = None


IdempotencyState = Literal["started", "completed", "in_progress", "mismatch"]


class IdempotencyClaim(Struct, frozen=True):
    state: IdempotencyState
    response: StoredResponse | None = None


class GenerationPage(Struct, frozen=True):
    """A page of the request log, newest first; `next_cursor` continues it (None: nothing older)."""

    records: list[GenerationRecord]
    next_cursor: str | None
