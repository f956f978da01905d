"""Who is calling: a gateway key (hashed, looked up in the store) or the management key (admin routes only).

Keys are compared as SHA-256 digests with `hmac.compare_digest`, so neither a key's length nor its prefix
leaks through timing. OpenRouter answers 401 for a disabled or expired key, and so does this gateway.
"""

from __future__ import annotations

import hashlib
import hmac

from lambdarouter.core.credentials import Credentials
from lambdarouter.core.errors import GatewayError, unauthorized
from lambdarouter.store import KEY_PREFIX, KeyRecord, KeyStore, hash_key, same_hash

ADMIN_KEY_NAME = "LAMBDAROUTER_ADMIN_KEY"


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authenticate_key(keys: KeyStore, authorization: str | None, now: float) -> KeyRecord:
    token = bearer_token(authorization)
    if token is None:
        raise unauthorized("Missing API key: send `Authorization: Bearer sk-lr-...`.")
    digest = hash_key(token)
    record = await keys.find_key(digest)
    if record is None or not same_hash(record.hash, digest):
        raise unauthorized("Invalid API key.")
    if record.disabled:
        raise unauthorized("This API key is disabled.")
    if record.is_expired(now):
        raise unauthorized("This API key has expired.")
    return record


async def require_admin(credentials: Credentials, keys: KeyStore, authorization: str | None, now: float) -> None:
    """The management key passes. A valid gateway key is 403: it is a credential, just not for this route. Any other
    credential (unknown, deleted, disabled or expired key, wrong management key) is 401, as on every other route."""
    expected = credentials.get(ADMIN_KEY_NAME)
    if not expected:
        raise unauthorized(f"The management API is disabled: {ADMIN_KEY_NAME} is not set.")
    token = bearer_token(authorization)
    if token is None:
        raise unauthorized("Missing management key: send `Authorization: Bearer <LAMBDAROUTER_ADMIN_KEY>`.")
    if hmac.compare_digest(hashlib.sha256(token.encode()).digest(), hashlib.sha256(expected.encode()).digest()):
        return
    # Only a token shaped like a gateway key costs a store lookup: the 403 must be earned by a key that works.
    if token.startswith(KEY_PREFIX):
        try:
            await authenticate_key(keys, authorization, now)
        except GatewayError:
            pass  # unknown, disabled or expired: no better than any other token (a store fault propagates: 503)
        else:
            raise GatewayError(403, "Gateway keys cannot manage keys: this route needs the management key.")
    raise unauthorized("Invalid management key.")
