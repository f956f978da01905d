"""Bedrock Runtime errors → `GatewayError`: HTTP error responses and ConverseStream exception frames.

Bedrock names the error only in the `x-amzn-errortype` response header (`ValidationException:http://
internal.amazon.com/coral/com.amazon.bedrock/`: the type is the part before the first `:`); the body is
just `{"message": ...}` (see tests/recordings/bedrock/error-*.json). A stream that already started reports
a failure as an event-stream frame with `:message-type: exception` and `:exception-type:
throttlingException` (the same type, first letter lower-cased) and a `{"message": ...}` payload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.providers.base import STATUS_TABLE, gateway_status, parse_json_body, upstream_error

# Error type → (gateway status, may another endpoint succeed?). Sources: the Converse / ConverseStream
# API reference "Errors" sections
# (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors,
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html) and the AWS
# common errors (https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html). Statuses
# follow the design's table (base.STATUS_TABLE): the provider refusing the gateway's own credentials or
# failing internally is a 502 another endpoint may not suffer from.
ERROR_TYPES: Mapping[str, tuple[int, bool]] = {
    "ValidationException": (400, False),                # HTTP 400: the request itself is wrong
    "AccessDeniedException": (502, True),               # HTTP 403: the gateway's role lacks access
    "UnrecognizedClientException": (502, True),         # HTTP 403: unknown access key
    "ExpiredTokenException": (502, True),               # HTTP 403: expired session credentials
    "InvalidSignatureException": (502, True),           # HTTP 403
    "IncompleteSignature": (502, True),                 # HTTP 400 (a gateway bug, not the client's)
    "MissingAuthenticationToken": (502, True),          # HTTP 403
    "ResourceNotFoundException": (404, False),          # HTTP 404: unknown model id or profile
    "ThrottlingException": (429, True),                 # HTTP 429
    "ServiceQuotaExceededException": (429, True),       # HTTP 400: an account quota, i.e. rate limited
    "ModelTimeoutException": (408, True),               # HTTP 408
    "ModelNotReadyException": (502, True),              # HTTP 429: the model is loading, try elsewhere
    "ModelErrorException": (502, True),                 # HTTP 424
    "ModelStreamErrorException": (502, True),           # HTTP 424, also a stream exception frame
    "InternalServerException": (502, True),             # HTTP 500
    "ServiceUnavailableException": (502, True),         # HTTP 503
}


def error_type(headers: Mapping[str, str], raw: Any) -> str | None:
    """The Coral error type: the header's part before `:`, else a JSON body's `__type` / `code`."""
    header = next((v for k, v in headers.items() if k.lower() == "x-amzn-errortype"), None)
    if header:
        return header.split(":", 1)[0].strip() or None
    if isinstance(raw, dict):
        named = raw.get("__type") or raw.get("code")
        if isinstance(named, str) and named:
            return named.rsplit("#", 1)[-1].split(":", 1)[0]
    return None


def _message(raw: Any) -> str:
    if isinstance(raw, dict):
        message = raw.get("message") or raw.get("Message")
        return str(message) if message else ""
    return str(raw)[:500] if raw else ""


def _table_for(kind: str | None, status: int) -> Mapping[int, tuple[int, bool]]:
    """A one-row status table when the type is known, so `upstream_error` applies the type's mapping."""
    if kind is not None and kind in ERROR_TYPES:
        return {**STATUS_TABLE, status: ERROR_TYPES[kind]}
    return STATUS_TABLE


def http_error(status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
    raw = parse_json_body(body)
    kind = error_type(headers, raw)
    message = _message(raw)
    text = f"{kind}: {message}" if kind and message else (kind or message)
    lowered = {k.lower(): v for k, v in headers.items()}  # `upstream_error` looks retry-after up by lower case
    error = upstream_error(status, lowered, raw, text, provider, _table_for(kind, status))
    if kind:
        error.metadata["error_type"] = kind
    return error


def stream_exception(headers: Mapping[str, Any], payload: bytes, provider: str) -> GatewayError:
    """An `exception` (modeled, e.g. throttlingException) or `error` (unmodeled) event-stream frame."""
    if headers.get(":message-type") == "error":
        kind = str(headers.get(":error-code") or "InternalServerException")
        raw: Any = {"error_code": kind, "message": str(headers.get(":error-message") or "")}
    else:
        exception = str(headers.get(":exception-type") or "")
        kind = exception[:1].upper() + exception[1:] if exception else "InternalServerException"
        try:
            raw = json.loads(payload) if payload else {}
        except ValueError:
            raw = payload.decode("utf-8", errors="replace")[:2000]
    status, retryable = ERROR_TYPES.get(kind, gateway_status(502))
    message = _message(raw)
    return GatewayError(
        status,
        f"{provider}: {kind}: {message}" if message else f"{provider}: {kind} in the stream",
        metadata={"provider_name": provider, "raw": raw, "error_type": kind},
        retryable=retryable,
    )
