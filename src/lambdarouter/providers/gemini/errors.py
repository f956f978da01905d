"""Gemini API errors → the gateway's envelope.

Gemini answers errors with a google.rpc.Status body, `{"error": {"code": <http status>, "message",
"status": "<canonical code>", "details": [...]}}` (https://ai.google.dev/gemini-api/docs/troubleshooting,
https://cloud.google.com/apis/design/errors). The canonical code is more precise than the HTTP status
(a bad API key is a 400 INVALID_ARGUMENT whose ErrorInfo reason says API_KEY_INVALID, see the recording
gemini/error-400-api-key-invalid.json), so the table is keyed by it, falling back to the HTTP status.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.providers.base import gateway_status, parse_json_body

# Canonical code → (gateway status, may another endpoint succeed?). The HTTP status each has is from
# https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes and google/rpc/code.proto.
RPC_STATUS_TABLE: Mapping[str, tuple[int, bool]] = {
    "INVALID_ARGUMENT": (400, False),  # 400: the request is malformed (the client's to fix)
    "OUT_OF_RANGE": (400, False),  # 400
    # 400: "free tier is not available in your country" / billing not enabled: the gateway's account
    "FAILED_PRECONDITION": (502, True),
    "UNAUTHENTICATED": (502, True),  # 401: the gateway's key, not the client's
    "PERMISSION_DENIED": (502, True),  # 403: the gateway's key lacks access (e.g. a tuned model)
    "NOT_FOUND": (404, False),  # 404: no such model or file
    "ALREADY_EXISTS": (502, True),  # 409
    "ABORTED": (502, True),  # 409: concurrency conflict upstream
    "RESOURCE_EXHAUSTED": (429, True),  # 429: rate limit or quota
    "CANCELLED": (502, True),  # 499
    "UNIMPLEMENTED": (502, True),  # 501: this model lacks the method; another endpoint may have it
    "INTERNAL": (502, True),  # 500
    "UNKNOWN": (502, True),  # 500
    "DATA_LOSS": (502, True),  # 500
    "UNAVAILABLE": (502, True),  # 503: overloaded
    "DEADLINE_EXCEEDED": (408, True),  # 504: the model ran out of time
}

# ErrorInfo reasons (google/api/error_reason.proto) that mean the gateway's own credentials or project are
# at fault whatever the canonical code says: never the client's 400.
CREDENTIAL_REASONS = frozenset({
    "API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED",
    "API_KEY_IP_ADDRESS_BLOCKED", "SERVICE_DISABLED", "BILLING_DISABLED", "CONSUMER_SUSPENDED",
    "CONSUMER_INVALID", "ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
})

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")  # protobuf Duration in JSON: "37s", "0.5s"


def map_error(status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
    raw = parse_json_body(body)
    # The non-SSE streaming form wraps the error in a JSON array (`[{"error": {...}}]`).
    payload = raw[0] if isinstance(raw, list) and raw else raw
    error = payload.get("error") if isinstance(payload, dict) else None
    return error_from_status(error if isinstance(error, dict) else {}, status, headers, raw, provider)


def error_from_status(error: Mapping[str, Any], status: int, headers: Mapping[str, str], raw: Any,
                      provider: str | None) -> GatewayError:
    """One google.rpc.Status (from an HTTP error, or a stream's `{"error": ...}` chunk) → GatewayError."""
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    reasons = {d.get("reason") for d in details if d.get("@type") == ERROR_INFO}
    canonical = str(error.get("status") or "")
    if reasons & CREDENTIAL_REASONS:
        code, retryable = 502, True
    elif canonical in RPC_STATUS_TABLE:
        code, retryable = RPC_STATUS_TABLE[canonical]
    else:
        code, retryable = gateway_status(status)
    message = str(error.get("message") or f"returned HTTP {status}")
    retry_after = headers.get("retry-after") or _retry_delay(details)
    metadata: dict[str, Any] = {"raw": raw, "status": status}
    if provider:
        metadata["provider_name"] = provider
    return GatewayError(code, f"{provider or 'gemini'}: {message}", metadata=metadata,
                        headers={"retry-after": retry_after} if retry_after else None, retryable=retryable)


def _retry_delay(details: list[dict[str, Any]]) -> str | None:
    """RetryInfo.retryDelay ("37s") as whole seconds for `retry-after` (Gemini sends no header on 429s)."""
    for detail in details:
        if detail.get("@type") == RETRY_INFO and isinstance(detail.get("retryDelay"), str):
            match = _DURATION.match(detail["retryDelay"])
            if match:
                return str(math.ceil(float(match.group(1))))
    return None
