"""The gateway's one error type and the design's status table.

Every failure that reaches a client is a `GatewayError`; the HTTP layer renders it as
`{"error": {"code", "message", "type", "metadata"}}` with HTTP status == code. Upstream failures are
normalized into it by each adapter's error mapping (one seam per adapter), never by message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# status -> the `type` string the envelope carries (OpenAI SDKs read it; OpenRouter mirrors OpenAI's names).
ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_credits",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "unprocessable_entity",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
}


class GatewayError(Exception):
    """An error with a client-facing status, message and metadata (never a traceback)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retryable: bool = False,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.headers: dict[str, str] = dict(headers or {})
        # Whether a fallback to another endpoint may succeed (connect errors, 408, 429, 5xx).
        self.retryable = retryable
        # Whether asking the same endpoint again later may succeed: a retryable error, unless the provider
        # refused the request itself or the gateway's credentials (its own 400/401/403/404), which a retry
        # would only repeat.
        upstream_status = self.metadata.get("status")
        self.transient = transient if transient is not None else (
            retryable and upstream_status not in (400, 401, 403, 404))

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.status, "upstream_error" if self.status >= 500 else "invalid_request_error")

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.status, "message": self.message, "type": self.error_type}
        if self.metadata:
            body["metadata"] = self.metadata
        return {"error": body}


def bad_request(message: str, **metadata: Any) -> GatewayError:
    return GatewayError(400, message, metadata=metadata or None)


def unauthorized(message: str = "Missing or invalid API key.") -> GatewayError:
    return GatewayError(401, message)
