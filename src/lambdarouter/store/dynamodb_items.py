"""DynamoDB items ↔ records for the keys table (attribute values: lambdarouter/aws/attributes.py, boto3's mapping)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lambdarouter.aws.attributes import deserialize, serialize
from lambdarouter.store.codec import decode_rate, encode_rate
from lambdarouter.store.model import ZERO, Hold, KeyRecord

_ALIAS = re.compile(r"#(\w+)")
# Attribute names are always aliased: several (usage, name, hash, limit) are DynamoDB reserved words.
_ATTRS = frozenset({"remaining", "usage", "period_usage", "period_start", "holds", "rate_window", "rate_count",
                    "version"})
SETTING_ATTRS = ("name", "label", "disabled", "limit", "limit_reset", "expires_at", "rate_limit", "allowed_models",
                 "updated_at")


def value(python: Any) -> dict[str, Any]:
    if isinstance(python, float):
        python = Decimal(repr(python))  # repr round-trips: the float read back is the same float
    return serialize(python)


def plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: deserialize(v) for name, v in item.items()}


def aliases(expressions: str, names: Mapping[str, str] | None) -> dict[str, str]:
    """`#attr` → `attr` for every alias the expressions use (DynamoDB refuses unused ones)."""
    found = {f"#{a}": a for a in _ALIAS.findall(expressions) if a in _ATTRS}
    return {**found, **(names or {})}


def key_item(r: KeyRecord) -> dict[str, Any]:
    return {
        "hash": r.hash, "name": r.name, "label": r.label, "created_at": r.created_at, "disabled": r.disabled,
        "limit": r.limit, "limit_reset": r.limit_reset, "expires_at": r.expires_at,
        "rate_limit": encode_rate(r.rate_limit),
        "allowed_models": list(r.allowed_models) if r.allowed_models is not None else None,
        "updated_at": r.updated_at, "usage": r.usage, "period_usage": r.period_usage,
        "period_start": r.period_start, "remaining": r.remaining,
    }


def _float(number: Any) -> float | None:
    return None if number is None else float(number)


def record_of(item: Mapping[str, Any]) -> KeyRecord:
    holds = tuple(sorted((Hold(hold_id, Decimal(h["amount"]), float(h["expires_at"]))
                          for hold_id, h in (item.get("holds") or {}).items()), key=lambda h: h.id))
    models = item.get("allowed_models")
    return KeyRecord(
        hash=item["hash"], name=item["name"], label=item["label"], created_at=float(item["created_at"]),
        disabled=bool(item.get("disabled", False)), limit=item.get("limit"), limit_reset=item.get("limit_reset"),
        expires_at=_float(item.get("expires_at")), rate_limit=decode_rate(item.get("rate_limit")),
        allowed_models=tuple(models) if models is not None else None, updated_at=_float(item.get("updated_at")),
        usage=item.get("usage", ZERO), period_usage=item.get("period_usage", ZERO),
        period_start=float(item.get("period_start", 0)), remaining=item.get("remaining", ZERO), holds=holds,
    )
