"""Signed reasoning of non-OpenAI models, carried through a Responses client in `encrypted_content`.

Claude's thinking signatures, Bedrock's redacted reasoning and Gemini's thought signatures must come back on
the next turn unchanged, or the provider refuses the conversation (Anthropic: "a final assistant message must
start with a thinking block" once thinking is on; Gemini 3: "missing a thought_signature"). The gateway's
events carry them as OpenRouter `reasoning_details` entries; a reasoning item carries those entries in its
`encrypted_content`, the one field of a reasoning item every client echoes back as it got it (Codex keeps
only `id`, `summary`, `content` and `encrypted_content` of an item). The carrier is marked, so an OpenAI blob
(its own encrypted reasoning) is never mistaken for it, and the other way round.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

PREFIX = "lrd1."  # lambdarouter reasoning_details, version 1


def carry(details: Sequence[dict[str, Any]]) -> str | None:
    """`reasoning_details` entries as an `encrypted_content` string (None when there are none)."""
    if not details:
        return None
    packed = json.dumps(list(details), separators=(",", ":"), ensure_ascii=False).encode()
    return PREFIX + base64.urlsafe_b64encode(packed).decode("ascii")


def is_carried(encrypted_content: str | None) -> bool:
    return bool(encrypted_content) and str(encrypted_content).startswith(PREFIX)


def details_of(encrypted_content: str | None) -> list[dict[str, Any]]:
    """The `reasoning_details` entries a carrier holds; [] for anything else (an OpenAI blob, a damaged
    string): the provider then gets the reasoning without its signature, which it ignores or refuses itself."""
    if not is_carried(encrypted_content):
        return []
    assert encrypted_content is not None
    try:
        loaded = json.loads(base64.urlsafe_b64decode(encrypted_content[len(PREFIX):].encode("ascii")))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return []
    if not isinstance(loaded, list):
        return []
    return [entry for entry in loaded if isinstance(entry, dict)]
