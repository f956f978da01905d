"""Records ↔ JSON text, shared by both stores (money as decimal strings, never floats)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

from lambdarouter.store.model import GenerationRecord, RateLimit, StoredResponse


def encode_generation(record: GenerationRecord) -> str:
    fields = dataclasses.asdict(record)
    fields["cost"] = str(record.cost)
    return json.dumps(fields, separators=(",", ":"))


def decode_generation(text: str) -> GenerationRecord:
    fields: dict[str, Any] = json.loads(text)
    fields["cost"] = Decimal(fields["cost"])
    fields["attempts"] = tuple(tuple(a) for a in fields["attempts"])
    known = {f.name for f in dataclasses.fields(GenerationRecord)}
    return GenerationRecord(**{k: v for k, v in fields.items() if k in known})


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
