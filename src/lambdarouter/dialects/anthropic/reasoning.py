"""Reasoning as Anthropic clients carry it: `thinking` blocks (text + signature) and `redacted_thinking` blocks.

The gateway's events carry reasoning as OpenRouter `reasoning_details` entries
(https://openrouter.ai/docs/use-cases/reasoning-tokens#reasoning-details-api-shape), whichever provider wrote
them. Claude's own entries (format `anthropic-claude-v1`, and Claude's signed thinking from Bedrock, valid
across platforms) are Anthropic blocks as they are. Another provider's entry (a Gemini thought signature, an
OpenAI encrypted reasoning item) has no Anthropic block of its own, yet the client must send it back for the
next turn to work: it travels inside the block Anthropic clients return unread — a thinking block's
`signature` or a redacted block's `data` — as `lambdarouter.v1.` + base64url(JSON of the entry), and the
next request restores the entry unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

CLAUDE_FORMAT = "anthropic-claude-v1"  # OpenRouter's `format` of Claude's reasoning entries
CLAUDE_SIGNED_FORMATS = frozenset({CLAUDE_FORMAT, "amazon-bedrock"})  # signatures Claude accepts back
WRAPPED = "lambdarouter.v1."


def wrap(detail: dict[str, Any]) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(detail, separators=(",", ":")).encode()).decode()
    return WRAPPED + encoded


def unwrap(value: str) -> dict[str, Any] | None:
    """The entry `wrap` made of `value`, else None (a signature or blob of Claude's own)."""
    if not value.startswith(WRAPPED):
        return None
    try:
        detail = json.loads(base64.urlsafe_b64decode(value[len(WRAPPED):].encode()))
    except (binascii.Error, ValueError):
        return None
    return detail if isinstance(detail, dict) else None


def signature_of(detail: dict[str, Any]) -> str | None:
    """What a thinking block's `signature` holds for a `reasoning.text` entry: Claude's own, else the entry."""
    signature = detail.get("signature")
    if detail.get("format", CLAUDE_FORMAT) in CLAUDE_SIGNED_FORMATS:
        return signature if isinstance(signature, str) and signature else None
    return wrap(detail)


def redacted_data(detail: dict[str, Any]) -> str:
    """What a redacted_thinking block's `data` holds for a `reasoning.encrypted` (or other) entry."""
    data = detail.get("data")
    if detail.get("format", CLAUDE_FORMAT) == CLAUDE_FORMAT and detail.get("type") == "reasoning.encrypted" \
            and isinstance(data, str):
        return data
    return wrap(detail)


def thinking_detail(thinking: str, signature: str, index: int) -> dict[str, Any]:
    """A thinking block sent back, as the entry it came from."""
    restored = unwrap(signature)
    if restored is not None:
        return restored
    return {"type": "reasoning.text", "text": thinking, "signature": signature, "format": CLAUDE_FORMAT,
            "index": index}


def redacted_detail(data: str, index: int) -> dict[str, Any]:
    """A redacted_thinking block sent back, as the entry it came from."""
    restored = unwrap(data)
    if restored is not None:
        return restored
    return {"type": "reasoning.encrypted", "data": data, "format": CLAUDE_FORMAT, "index": index}
