"""The gateway's one error type, the design's status table, and who caused each error.

Every failure that reaches a client is a `GatewayError`; the HTTP layer renders it as
`{"error": {"code", "message", "type", "metadata"}}` with HTTP status == code. Upstream failures are
normalized into it by each adapter's error mapping (one seam per adapter), never by message text.

Each error says where it came from (`origin`), and what reads it decides by that, not by the status: failover
tries another endpoint only for what an upstream or the way to it did, endpoint health counts only those
(a client's bad request, or the gateway's own refusal, says nothing about the provider), and the ledger
books an error the client caused the same as one the provider caused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

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

# client: the request (or the key) cannot be served as sent; gateway: the gateway's own fault (a store down,
# a bug); upstream: the provider answered with an error or with something unreadable; transport: the provider
# could not be reached, or did not answer in time; configuration: the operator has not set something up.
Origin = Literal["client", "gateway", "upstream", "transport", "configuration"]
# The origins that say something about the endpoint itself: they count against its health, and another
# endpoint (or the same one, later) may well succeed where it failed.
ENDPOINT_FAULTS: frozenset[Origin] = frozenset({"upstream", "transport"})
# Statuses worth another endpoint when an endpoint fault gave them (DESIGN.md "Errors"): a timeout, a rate
# limit, a provider's own failure.
RETRYABLE_STATUSES = frozenset({408, 429})


def _retryable_status(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_STATUSES


class GatewayError(Exception):
    """An error with a client-facing status, message and metadata (never a traceback)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retryable: bool | None = None,
        transient: bool | None = None,
        origin: Origin | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.headers: dict[str, str] = dict(headers or {})
        # Unless said: what the gateway refuses below 500 is the client's request, above it its own failure.
        self.origin: Origin = origin or ("client" if status < 500 else "gateway")
        # Whether a fallback to another endpoint may succeed: an endpoint's fault with a retryable status.
        self.retryable = retryable if retryable is not None else (
            self.origin in ENDPOINT_FAULTS and _retryable_status(status))
        # Whether asking the same endpoint again later may succeed: a retryable error, unless the provider
        # refused the request itself or the gateway's credentials (its own 400/401/403/404), which a retry
        # would only repeat.
        upstream_status = self.metadata.get("status")
        self.transient = transient if transient is not None else (
            self.retryable and upstream_status not in (400, 401, 403, 404))

    @property
    def endpoint_fault(self) -> bool:
        """Whether this says something about the endpoint that was tried (its health, its failover)."""
        return self.origin in ENDPOINT_FAULTS

    def from_upstream(self, provider: str) -> GatewayError:
        """This error as raised while reading a provider's answer: the provider's fault, whatever the
        adapter built it as, and worth another endpoint when its status is (a 200 stream's error event)."""
        self.origin = "upstream"
        self.metadata.setdefault("provider_name", provider)
        if not self.retryable and _retryable_status(self.status):
            self.retryable = self.transient = True
        return self

    def redact(self, secrets: Collection[str]) -> GatewayError:
        """This error with every secret replaced, in its message and its metadata (`raw` holds whatever the
        provider sent, which may echo the credential it was given)."""
        if secrets:
            self.message = _scrub(self.message, secrets)
            self.args = (self.message,)
            self.metadata = _scrub(self.metadata, secrets)
        return self

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.status, "upstream_error" if self.status >= 500 else "invalid_request_error")

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.status, "message": self.message, "type": self.error_type}
        if self.metadata:
            body["metadata"] = self.metadata
        return {"error": body}


def _scrub(value: Any, secrets: Collection[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, Mapping):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets) for v in value]
    return value


def bad_request(message: str, **metadata: Any) -> GatewayError:
    return GatewayError(400, message, metadata=metadata or None)


def unauthorized(message: str = "Missing or invalid API key.") -> GatewayError:
    return GatewayError(401, message)


def not_configured(message: str, *, retryable: bool = False, **metadata: Any) -> GatewayError:
    """503: the operator has not set something up that this request needs (credentials, a wire format)."""
    return GatewayError(503, message, metadata=metadata or None, retryable=retryable, origin="configuration")
