"""A client's JSON request body, edited without being re-serialized.

Lossless passthrough means the provider receives the bytes the client sent: prompt-cache prefixes and thinking
signatures are matched byte for byte by Anthropic, so a re-serialized body (other spacing, escaped non-ASCII,
reordered keys) could miss a cache the client built. Only the spans of the top-level members named are
replaced; everything else stays as it came. The body was validated as JSON before it gets here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from msgspec import Struct

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class Member(Struct, frozen=True):
    key: str
    start: int  # where its key's opening quote is
    value_start: int
    value_end: int


def _skip(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return match.end() if match else position


def members(text: str) -> list[Member]:
    """The top-level members of a JSON object's text, in order (duplicates included)."""
    position = _skip(text, 0)
    if text[position:position + 1] != "{":
        raise ValueError("not a JSON object")
    position = _skip(text, position + 1)
    found: list[Member] = []
    while text[position:position + 1] == '"':
        key_start = position
        key, position = scanstring(text, position + 1)
        position = _skip(text, position)
        position = _skip(text, position + 1)  # the colon
        _, end = _DECODER.raw_decode(text, position)
        found.append(Member(key, key_start, position, end))
        position = _skip(text, end)
        if text[position:position + 1] == ",":
            position = _skip(text, position + 1)
    return found


def with_value(body: bytes, key: str, value: Any) -> bytes:
    """`body` with every top-level `key` set to `value`, and not one other byte changed."""
    text = body.decode("utf-8")
    encoded = json.dumps(value, ensure_ascii=False)
    for member in reversed([m for m in members(text) if m.key == key]):
        text = text[:member.value_start] + encoded + text[member.value_end:]
    return text.encode("utf-8")


def rebuilt(body: bytes, drop: frozenset[str], add: Mapping[str, Any]) -> bytes:
    """`body` without the members named in `drop`, with `add` appended; each kept member's text unchanged."""
    text = body.decode("utf-8")
    kept = [text[m.start:m.value_end] for m in members(text) if m.key not in drop and m.key not in add]
    kept.extend(f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}" for k, v in add.items())
    return ("{" + ",".join(kept) + "}").encode("utf-8")
