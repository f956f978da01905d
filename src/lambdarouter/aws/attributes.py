"""Python values ↔ DynamoDB attribute values, as boto3's TypeSerializer / TypeDeserializer map them.

None ↔ NULL, bool ↔ BOOL, int and Decimal → N (read back as Decimal: DynamoDB numbers have up to 38 digits,
which a float cannot hold), str ↔ S, bytes ↔ B (base64 in the JSON protocol), a set of numbers, strings or
bytes ↔ NS / SS / BS, a mapping ↔ M, a list or tuple → L (DynamoDB developer guide, "Supported data types";
the JSON wire form: DynamoDB API reference, AttributeValue). Floats are refused, as boto3 refuses them: the
caller decides how a float becomes a Decimal.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Set
from decimal import Decimal
from typing import Any


def _number(value: int | Decimal) -> str:
    if isinstance(value, Decimal) and not value.is_finite():
        raise TypeError("Infinity and NaN are not DynamoDB numbers")
    return str(value)


def _set(values: Set[Any]) -> dict[str, Any]:
    items = list(values)
    if items and all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in items):
        return {"NS": [_number(v) for v in items]}
    if items and all(isinstance(v, str) for v in items):
        return {"SS": items}
    if items and all(isinstance(v, (bytes, bytearray)) for v in items):
        return {"BS": [base64.b64encode(v).decode() for v in items]}
    raise TypeError("a DynamoDB set holds numbers, strings or bytes, and is not empty")


def serialize(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": base64.b64encode(value).decode()}
    if isinstance(value, Set):
        return _set(value)
    if isinstance(value, Mapping):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f"{type(value).__name__} is not a DynamoDB type")


def deserialize(attribute: Mapping[str, Any]) -> Any:
    (kind, raw), = attribute.items()
    if kind == "S":
        return raw
    if kind == "N":
        return Decimal(raw)
    if kind == "M":
        return {k: deserialize(v) for k, v in raw.items()}
    if kind == "L":
        return [deserialize(v) for v in raw]
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "B":
        return base64.b64decode(raw)
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {Decimal(v) for v in raw}
    if kind == "BS":
        return {base64.b64decode(v) for v in raw}
    raise TypeError(f"{kind} is not a DynamoDB attribute type")
