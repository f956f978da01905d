"""Errors in Anthropic's own shape and status codes (https://platform.claude.com/docs/en/api/errors).

`{"type": "error", "error": {"type", "message"}}` is the only error body the Anthropic SDKs parse; their error
classes follow the HTTP status (400 BadRequestError … 402 PaymentRequiredError, 504 GatewayTimeoutError, 529
OverloadedError) and they retry 408, 409, 429 and 5xx. The gateway's statuses are the OpenRouter table
(core/errors.py); here each becomes the status and type Anthropic documents for the same condition:

- 402 (the key is out of credit) is Anthropic's `402 billing_error`;
- 408 (the provider did not answer in time) is Anthropic's `504 timeout_error`;
- 502 (an upstream failed) is `500 api_error`, or `529 overloaded_error` when the upstream said it was
  overloaded (Anthropic's 529, or a 503 from any host);
- 503 is `529 overloaded_error` when it is worth retrying (the key store briefly unavailable, a host not
  yet configured elsewhere), else `500 api_error` (a provider the deployment has no credentials for).
Other 4xx keep their status with `invalid_request_error`, as Anthropic does for 4xx codes it does not list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.anthropic.stream import frame

# gateway status -> (Anthropic status, Anthropic error type)
STATUSES: Mapping[int, tuple[int, str]] = {
    400: (400, "invalid_request_error"),
    401: (401, "authentication_error"),
    402: (402, "billing_error"),
    403: (403, "permission_error"),
    404: (404, "not_found_error"),
    408: (504, "timeout_error"),
    413: (413, "request_too_large"),
    429: (429, "rate_limit_error"),
    500: (500, "api_error"),
}
OVERLOADED = (529, "overloaded_error")
API_ERROR = (500, "api_error")
# Upstream statuses that mean "busy, try later" rather than "broken".
OVERLOADED_UPSTREAM = frozenset({503, 529})


def _upstream_overloaded(error: GatewayError) -> bool:
    raw = error.metadata.get("raw")
    inner = raw.get("error") if isinstance(raw, Mapping) else None
    kind = inner.get("type") if isinstance(inner, Mapping) else None
    return error.metadata.get("status") in OVERLOADED_UPSTREAM or kind == "overloaded_error"


def status_and_type(error: GatewayError) -> tuple[int, str]:
    if error.status in STATUSES:
        return STATUSES[error.status]
    if error.status == 502:
        return OVERLOADED if _upstream_overloaded(error) else API_ERROR
    if error.status == 503:
        return OVERLOADED if error.retryable or "retry-after" in error.headers else API_ERROR
    if error.status >= 500:
        return API_ERROR
    return error.status, "invalid_request_error"


def error_body(error: GatewayError) -> dict[str, Any]:
    _, kind = status_and_type(error)
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def error_event(error: GatewayError) -> bytes:
    """A stream's failure after its first byte, as Anthropic reports it: an `error` event."""
    return frame("error", error_body(error))
