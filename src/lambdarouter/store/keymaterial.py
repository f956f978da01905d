"""Gateway keys as secrets: minted once, stored and compared only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from lambdarouter.store.model import ZERO, KeyRecord, KeySettings, period_start

KEY_PREFIX = "sk-lr-v1-"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


def key_label(plaintext: str) -> str:
    """What may be shown of a key after creation: its prefix and last three characters."""
    return f"{plaintext[: len(KEY_PREFIX) + 3]}...{plaintext[-3:]}"


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def mint_key(name: str, settings: KeySettings | None, now: float) -> tuple[str, KeyRecord]:
    """A new key's plaintext (shown once) and the record a store keeps of it (its full limit remaining)."""
    settings = settings or KeySettings(name)
    plaintext = new_key()
    record = KeyRecord(
        hash_key(plaintext), name, settings.label or key_label(plaintext), now, settings.disabled, settings.limit,
        settings.limit_reset, settings.expires_at, settings.rate_limit, settings.allowed_models,
        period_start=period_start(settings.limit_reset, now), remaining=settings.limit or ZERO,
    )
    return plaintext, record
