"""`Idempotency-Key` on a non-streamed POST: the first answer is kept and replayed, charged once.

Records are scoped to the calling key (two keys never see each other's answers) and remember a SHA-256 of
the request body bytes: the same Idempotency-Key with another body is a 422, a duplicate that arrives
while the first is still running a 409. Only successful answers are kept; after a failure the claim is
released, so the client's retry runs again (a failed generation was charged nothing). Records last 24 h.
Streamed requests ignore the header: a stream cannot be replayed byte for byte, and OpenRouter's clients
retry streams by opening new ones.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

import anyio
from starlette.responses import Response

from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.store import IdempotencyStore, StoredResponse

logger = logging.getLogger(__name__)
MAX_KEY_LENGTH = 255


async def idempotent(store: IdempotencyStore, scope: str, idempotency_key: str, body: bytes,
                     produce: Callable[[], Awaitable[Response]]) -> Response:
    if not idempotency_key.strip() or len(idempotency_key) > MAX_KEY_LENGTH:
        raise bad_request(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
    body_hash = hashlib.sha256(body).hexdigest()
    claim = await store.claim_idempotency(scope, idempotency_key, body_hash)
    if claim.state == "mismatch":
        raise GatewayError(422, "This Idempotency-Key was already used with a different request body.")
    if claim.state == "in_progress":
        raise GatewayError(409, "A request with this Idempotency-Key is still in progress; retry later.")
    if claim.state == "completed" and claim.response is not None:
        kept = claim.response
        headers = {"idempotent-replayed": "true"}
        if kept.generation_id:
            headers["x-generation-id"] = kept.generation_id
        return Response(kept.body, status_code=kept.status, media_type="application/json", headers=headers)
    try:
        response = await produce()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await store.release_idempotency(scope, idempotency_key, body_hash)
        raise
    kept = StoredResponse(response.status_code, bytes(response.body).decode(), response.headers.get("x-generation-id"))
    try:
        await store.complete_idempotency(scope, idempotency_key, body_hash, kept)
    except Exception:  # the answer stands; the claim expires on its own and a retry would run again
        logger.warning("could not keep the idempotent response of %s", kept.generation_id, exc_info=True)
    return response
