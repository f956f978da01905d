"""Page cursors: opaque URL-safe text to clients, a small JSON value to the store that made it."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from lambdarouter.store.errors import InvalidCursor


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("`cursor` is not one this API returned.") from None
