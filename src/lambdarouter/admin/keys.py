"""Keys and generations in OpenRouter's JSON shapes (the settings a client sends are parsed by admin/key_body.py).

References: https://openrouter.ai/docs/features/provisioning-api-keys (POST/GET/PATCH/DELETE /keys),
https://openrouter.ai/docs/api-reference/get-current-api-key (GET /key) and
https://openrouter.ai/docs/api-reference/get-a-generation (GET /generation).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lambdarouter.store.model import (
    GenerationRecord,
    KeyRecord,
    RateLimit,
    period_start,
)


def iso(timestamp: float | None) -> str | None:
    """A stored time as ISO 8601 UTC. One no datetime can hold (a row written before expiry dates were
    checked) is shown as the first or last representable instant, so a listing still renders."""
    if timestamp is None or math.isnan(timestamp):
        return None
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, ValueError, OSError):
        moment = datetime.min.replace(tzinfo=UTC) if timestamp < 0 else datetime.max.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> float:
    """ISO 8601 (a date alone is midnight UTC; no zone means UTC); ValueError for any instant past year 9999
    or before year 1 once its offset is applied."""
    moment = datetime.fromisoformat(value)
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except OverflowError:
        raise ValueError(f"{value!r} is out of range") from None


def usd(value: Decimal | None) -> float | None:
    """USD as a JSON number. A stored amount no float can carry (a row written before limits were checked) is
    clamped to the largest float, so that a listing still renders; NaN is shown as null."""
    if value is None or value.is_nan():
        return None
    return max(-sys.float_info.max, min(float(value), sys.float_info.max))


def _remaining(record: KeyRecord, now: float) -> Decimal | None:
    try:
        return record.limit_remaining(now)
    except ArithmeticError:  # a NaN limit, stored before limits were checked: compared, it raises
        return None


def rate_limit_json(rate: RateLimit | None) -> dict[str, Any]:
    """Unlimited keys report `requests: -1` (a number, so typed clients keep parsing); `note` is required by
    OpenRouter's schema."""
    if rate is None:
        return {"requests": -1, "interval": "1m", "note": "This key has no request rate limit."}
    return {**rate.to_json(), "note": "Requests allowed per interval for this key."}


# No BYOK (bring your own provider key) here: OpenRouter's `byok_usage*` fields are 0.
NO_BYOK = {"byok_usage": 0.0, "byok_usage_daily": 0.0, "byok_usage_weekly": 0.0, "byok_usage_monthly": 0.0,
           "include_byok_in_limit": False}
# One workspace per deployment; keys are made with the management key, by no user of an account.
WORKSPACE_ID = "default"


def _spend(record: KeyRecord, spend: Mapping[str, Decimal] | None) -> dict[str, Any]:
    """Spend in all and, when known, in the current UTC day, week and month (`usage.period_spend`)."""
    periods = {} if spend is None else {f"usage_{name}": usd(spend[name]) for name in ("daily", "weekly", "monthly")}
    return {"usage": usd(record.usage), **periods, **NO_BYOK}


def key_data(record: KeyRecord, now: float, spend: Mapping[str, Decimal] | None = None) -> dict[str, Any]:
    """A key as the management API returns it (never its plaintext); the API passes its spend per current
    period (`usage.period_spend`), which OpenRouter's schema requires."""
    return {
        "hash": record.hash, "name": record.name, "label": record.label, "disabled": record.disabled,
        "limit": usd(record.limit), "limit_remaining": usd(_remaining(record, now)),
        "limit_reset": record.limit_reset, **_spend(record, spend),
        "created_at": iso(record.created_at), "updated_at": iso(record.updated_at),
        "expires_at": iso(record.expires_at), "creator_user_id": None, "workspace_id": WORKSPACE_ID,
        "external_user": None, "last_used_at": None,  # neither is recorded per key here
        "rate_limit": rate_limit_json(record.rate_limit),
        "allowed_models": list(record.allowed_models) if record.allowed_models is not None else None,
    }


def next_reset(reset: str | None, now: float) -> float | None:
    """When the key's budget period that holds `now` ends (None: a budget that never resets)."""
    if reset is None:
        return None
    start = datetime.fromtimestamp(period_start(reset, now), UTC)
    if reset == "monthly":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1).timestamp()
    return (start + timedelta(days=7 if reset == "weekly" else 1)).timestamp()


def key_budget(record: KeyRecord, now: float) -> dict[str, Any] | None:
    """The key's own limit as OpenRouter's SDKs read a budget (`KeyBudget`, scope `key_limit`); None without one."""
    if record.limit is None:
        return None
    return {"scope": "key_limit", "budget_id": None, "guardrail_id": None, "include_byok": False,
            "limit_usd": usd(record.limit), "remaining_usd": usd(_remaining(record, now)),
            "spend_usd": usd(record.usage_in_period(now)), "reset_interval": record.limit_reset,
            "resets_at": iso(next_reset(record.limit_reset, now))}


def key_info(record: KeyRecord, now: float, spend: Mapping[str, Decimal]) -> dict[str, Any]:
    """GET /key: the calling key's own view; `spend` per current UTC period (`Ledger.period_spend`). The key's
    limit is its only budget (no guardrails or workspaces here); no free models, so no free requests."""
    budget = key_budget(record, now)
    return {
        "label": record.label, "name": record.name, "limit": usd(record.limit),
        "limit_remaining": usd(_remaining(record, now)), "limit_reset": record.limit_reset,
        **_spend(record, spend), "is_free_tier": False, "is_provisioning_key": False, "is_management_key": False,
        "creator_user_id": None, "organization_id": None, "workspace_id": None, "allowed_data_regions": ["global"],
        "budgets": [budget] if budget else [], "effective_budget": budget,
        "free_model_daily_requests": {"limit": 0, "remaining": 0, "used": 0},
        "rate_limit": rate_limit_json(record.rate_limit), "expires_at": iso(record.expires_at),
        "allowed_models": list(record.allowed_models) if record.allowed_models is not None else None,
    }


def generation_data(record: GenerationRecord) -> dict[str, Any]:
    """GET /generation: one ledger row in OpenRouter's shape (`status`, `usage_estimated` and `web_search_requests`
    are ours). What the ledger does not know is null, as OpenRouter's schema allows
    (docs/openrouter-compatibility.md)."""
    generation_time = (record.latency_ms - record.first_token_ms) if record.first_token_ms is not None else None
    return {
        "id": record.id, "total_cost": float(record.cost), "usage": float(record.cost),
        "upstream_inference_cost": None, "created_at": iso(record.created_at),
        "model": record.model or record.model_requested, "model_requested": record.model_requested, "origin": "",
        "is_byok": False, "upstream_id": record.upstream_id, "cache_discount": None, "app_id": None,
        "streamed": record.streamed, "cancelled": record.status == "aborted", "provider_name": record.provider,
        "latency": record.latency_ms, "moderation_latency": None, "generation_time": generation_time,
        "finish_reason": record.finish_reason, "native_finish_reason": record.native_finish_reason,
        "service_tier": None, "tokens_prompt": record.prompt_tokens, "tokens_completion": record.completion_tokens,
        "native_tokens_prompt": record.prompt_tokens, "native_tokens_completion": record.completion_tokens,
        "native_tokens_completion_images": None, "native_tokens_reasoning": record.reasoning_tokens,
        "native_tokens_cached": record.cached_tokens, "num_media_prompt": record.num_media_prompt,
        "num_input_audio_prompt": None, "num_media_completion": record.num_media_completion,
        "num_search_results": 0, "num_fetches": record.web_fetch_requests, "web_search_engine": None,
        "external_user": None, "api_type": None, "preset_id": None, "router": None, "user_agent": None,
        "http_referer": None, "data_region": "global", "workspace_id": None,
        "provider_responses": [{"provider": p, "status": s, "latency": ms} for p, s, ms in record.attempts],
        "status": record.status, "usage_estimated": record.usage_estimated,
        "web_search_requests": record.web_search_requests,
    }
