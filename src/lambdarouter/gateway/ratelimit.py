"""Per-key request rate: fixed windows counted in the store, reported in OpenRouter's headers.

`X-RateLimit-Reset` is the window's end in epoch milliseconds, as OpenRouter sends it; `Retry-After` is
whole seconds until then (at least 1).
"""

from __future__ import annotations

import math

from lambdarouter.core.errors import GatewayError
from lambdarouter.store.model import RateDecision


def rate_headers(decision: RateDecision) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(decision.limit),
        "x-ratelimit-remaining": str(max(decision.remaining, 0)),
        "x-ratelimit-reset": str(int(decision.reset_at * 1000)),
    }


def rate_limited(decision: RateDecision, now: float) -> GatewayError:
    wait = max(math.ceil(decision.reset_at - now), 1)
    return GatewayError(
        429, f"Rate limit exceeded: {decision.limit} requests per window for this key. Retry in {wait} s.",
        headers={**rate_headers(decision), "retry-after": str(wait)},
    )
