"""Records ↔ JSON text, shared by both stores (money as decimal strings, never floats)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from lambdarouter.store.model import GenerationRecord, RateLimit, StoredResponse
from lambdarouter.store.summary import Counters

GENERATION_FIELDS = GenerationRecord.__struct_fields__
_KNOWN = frozenset(GENERATION_FIELDS)
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def encode_generation(record: GenerationRecord) -> str:
    """The record as compact JSON. Fields are read straight off the record: a deep copy (as `dataclasses.asdict`
    made) was the costliest step of a settle on the request path (issue 20's profile)."""
    fields = {name: getattr(record, name) for name in GENERATION_FIELDS}
    fields["cost"] = str(record.cost)
    return _COMPACT.encode(fields)


def decode_generation(text: str) -> GenerationRecord:
    fields: dict[str, Any] = json.loads(text)
    fields["cost"] = Decimal(fields["cost"])
    fields["attempts"] = tuple(tuple(a) for a in fields["attempts"])
    return GenerationRecord(**{k: v for k, v in fields.items() if k in _KNOWN})


def encode_counters(counters: Counters) -> str:
    return _COMPACT.encode({
        "requests": counters.requests, "prompt_tokens": counters.prompt_tokens,
        "completion_tokens": counters.completion_tokens, "images": counters.images, "errors": counters.errors,
        "cost": str(counters.cost), "latency": counters.latency, "ttft": counters.ttft})


def decode_counters(text: str) -> Counters:
    data: dict[str, Any] = json.loads(text)
    return Counters(data["requests"], data["prompt_tokens"], data["completion_tokens"], data["images"],
                    data["errors"], Decimal(data["cost"]), {int(k): v for k, v in data["latency"].items()},
                    {int(k): v for k, v in data["ttft"].items()})


def encode_models(models: tuple[str, ...] | None) -> str | None:
    return None if models is None else json.dumps(list(models))


def decode_models(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))


def encode_rate(rate: RateLimit | None) -> str | None:
    return None if rate is None else f"{rate.requests}/{rate.interval}s"


def decode_rate(text: str | None) -> RateLimit | None:
    return None if text is None else RateLimit.parse(text)


def encode_response(response: StoredResponse) -> dict[str, Any]:
    return {"status": response.status, "body": response.body, "generation_id": response.generation_id}


def decode_response(data: dict[str, Any]) -> StoredResponse:
    return StoredResponse(int(data["status"]), str(data["body"]), data.get("generation_id"))


def decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
