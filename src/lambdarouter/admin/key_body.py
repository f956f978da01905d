"""Key settings as the admin API (POST /keys, PATCH /keys/{hash}) and the CLI send them, validated.

Apart from admin/keys.py (the JSON a key is shown as) because only these bodies need pydantic: GET /key,
GET /generation and the management function's GET routes render keys without it, and their cold starts do not
import it (~100 ms of CPU, docs/deployment.md, "Cold start"). Reference:
https://openrouter.ai/docs/features/provisioning-api-keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambdarouter.store.model import (
    MAX_RATE_INTERVAL,
    KeySettings,
    LimitReset,
    RateLimit,
    parse_limit_reset,
)

# The ranges a key setting must fall in, from the admin API and the CLI alike (both validate a `KeyBody`).
# Past them a value is a typo or an attack, and it would break later: a limit past float's range renders as
# Infinity, which JSON cannot carry; a date whose UTC instant falls outside years 1-9999 cannot be formatted;
# DynamoDB numbers carry 38 significant digits, and budget arithmetic (limit - usage - holds) must stay exact
# in them: 10 integer and 12 decimal digits leave room for costs (catalog prices have at most 9 decimals).
MAX_LIMIT = Decimal(1_000_000_000)  # USD
LIMIT_PLACES = 12
MAX_RATE_REQUESTS = 1_000_000_000
EARLIEST_EXPIRY = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC)
MAX_NAME = 200
MAX_ALLOWED_MODELS = 256  # patterns per key: a DynamoDB item holds 400 KB

ModelPattern = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


def checked_expiry(moment: datetime) -> datetime:
    """`expires_at` as an aware UTC datetime between 1970 and 9999 (no zone means UTC)."""
    try:
        utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):  # past year 9999 or before year 1 in UTC
        utc = None
    if utc is None or not EARLIEST_EXPIRY <= utc <= LATEST_EXPIRY:
        raise ValueError(f"must fall between {EARLIEST_EXPIRY:%Y-%m-%d} and {LATEST_EXPIRY:%Y-%m-%d} UTC")
    return utc


def checked_interval(text: str) -> int:
    """A rate-limit interval in seconds, from 1 s to MAX_RATE_INTERVAL."""
    seconds = RateLimit.parse_interval(text)
    if not 1 <= seconds <= MAX_RATE_INTERVAL:
        raise ValueError(f"interval must be at least 1s and at most {MAX_RATE_INTERVAL // 86400}d, not {text!r}")
    return seconds


class RateLimitBody(BaseModel):
    requests: int = Field(ge=1, le=MAX_RATE_REQUESTS)
    interval: str = Field(default="1m", max_length=32)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        checked_interval(value)  # a bad interval is the client's 400 here, not a 500 in changes()
        return value


class KeyBody(BaseModel):
    """POST /keys and PATCH /keys/{hash}: OpenRouter's fields plus rate_limit and allowed_models.

    Fields OpenRouter has that mean nothing here (`include_byok_in_limit`) are accepted and ignored.
    """

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    label: str | None = Field(default=None, max_length=MAX_NAME)
    disabled: bool | None = None
    limit: Decimal | None = Field(default=None, ge=0, le=MAX_LIMIT, decimal_places=LIMIT_PLACES)
    limit_reset: str | None = None
    expires_at: datetime | None = None
    rate_limit: RateLimitBody | None = None
    allowed_models: list[ModelPattern] | None = Field(default=None, max_length=MAX_ALLOWED_MODELS)

    @field_validator("limit_reset")
    @classmethod
    def _reset(cls, value: str | None) -> str | None:
        return parse_limit_reset(value)

    @field_validator("expires_at")
    @classmethod
    def _expiry(cls, value: datetime | None) -> datetime | None:
        return None if value is None else checked_expiry(value)

    def changes(self) -> dict[str, Any]:
        """The settings this body names (an explicit null clears one)."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "expires_at":
                value = None if value is None else value.timestamp()
            elif name == "rate_limit":
                value = None if value is None else RateLimit(value.requests, checked_interval(value.interval))
            elif name == "allowed_models":
                value = None if value is None else tuple(value)
            elif name == "disabled" and value is None:
                continue
            out[name] = value
        return out

    def settings(self) -> KeySettings:
        if not self.name:
            raise ValueError("name: a key needs a name")
        changes = self.changes()
        reset: LimitReset | None = changes.get("limit_reset")
        return KeySettings(self.name, changes.get("label"), bool(changes.get("disabled")), changes.get("limit"),
                           reset, changes.get("expires_at"), changes.get("rate_limit"), changes.get("allowed_models"))
