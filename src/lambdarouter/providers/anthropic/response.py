"""Anthropic Messages responses and errors → the gateway's events (https://platform.claude.com/docs/en/api/messages).

Shared by the whole-response parser here and the stream decoder in `anthropic_stream`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    FinishReason,
    MalformedEvent,
    TokenUsage,
    UpstreamInfo,
    token_count,
)
from lambdarouter.providers.base import STATUS_TABLE, parse_json_body, upstream_error

# reasoning_details `format` OpenRouter gives Claude's signed thinking
# (https://openrouter.ai/docs/use-cases/reasoning-tokens#reasoning-details-api-shape).
ANTHROPIC_REASONING_FORMAT = "anthropic-claude-v1"

# stop_reason → OpenAI finish_reason (https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons).
# pause_turn: a server-tool turn paused and the client may continue it, i.e. a normal end of this response;
# model_context_window_exceeded: the output hit the context window, a length limit.
FINISH_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Anthropic error type (https://platform.claude.com/docs/en/api/errors) → (gateway status, may another
# endpoint succeed?). The gateway's own credentials or account being refused is not the client's fault (502,
# try elsewhere); 529 overloaded and 500 api_error are upstream faults.
ERROR_TYPES: Mapping[str, tuple[int, bool]] = {
    "invalid_request_error": (400, False),   # 400
    "authentication_error": (502, True),     # 401
    "billing_error": (502, True),            # 402
    "permission_error": (502, True),         # 403
    "not_found_error": (404, False),         # 404
    "request_too_large": (413, False),       # 413
    "rate_limit_error": (429, True),         # 429
    "api_error": (502, True),                # 500
    "timeout_error": (408, True),            # 504
    "overloaded_error": (502, True),         # 529
}
# When the body names no known type, the HTTP status decides (shared table + Anthropic's own codes).
STATUS_CODES: Mapping[int, tuple[int, bool]] = {**STATUS_TABLE, 402: (502, True), 504: (408, True), 529: (502, True)}


def finish(stop_reason: str) -> Finish:
    return Finish(FINISH_REASONS.get(stop_reason, "stop"), stop_reason)


def usage_from(raw: Mapping[str, Any]) -> TokenUsage:
    """Anthropic counts cache reads and writes apart from `input_tokens`; OpenAI's prompt_tokens holds all three.
    `cache_creation` splits the writes by TTL (a one-hour write costs more than a five-minute one) and
    `server_tool_use` counts the searches and fetches run for the answer (https://platform.claude.com/docs/en/api/messages,
    `usage`)."""
    uncached = token_count(raw.get("input_tokens"))
    read = token_count(raw.get("cache_read_input_tokens"))
    by_ttl = _object(raw.get("cache_creation"), "usage.cache_creation")
    hour = token_count(by_ttl.get("ephemeral_1h_input_tokens"), "usage.cache_creation.ephemeral_1h_input_tokens")
    minutes = token_count(by_ttl.get("ephemeral_5m_input_tokens"), "usage.cache_creation.ephemeral_5m_input_tokens")
    written = max(token_count(raw.get("cache_creation_input_tokens")), hour + minutes)
    details = _object(raw.get("output_tokens_details"), "usage.output_tokens_details")
    tools = _object(raw.get("server_tool_use"), "usage.server_tool_use")
    return TokenUsage(
        prompt_tokens=uncached + read + written,
        completion_tokens=token_count(raw.get("output_tokens")),
        cached_tokens=read,
        cache_write_tokens=written,
        reasoning_tokens=token_count(details.get("thinking_tokens")),
        cache_write_1h_tokens=hour,
        web_search_requests=token_count(tools.get("web_search_requests"), "usage.server_tool_use.web_search_requests"),
        web_fetch_requests=token_count(tools.get("web_fetch_requests"), "usage.server_tool_use.web_fetch_requests"),
    )


def _object(value: Any, name: str) -> Mapping[str, Any]:
    """A usage part that is an object or absent (null: {}); anything else is a malformed answer."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"{name} is not an object")
    return value


def text_detail(thinking: str, signature: str | None, index: int) -> dict[str, Any]:
    """A thinking block as an OpenRouter reasoning_details entry (sent back later, restored unchanged)."""
    detail: dict[str, Any] = {"type": "reasoning.text", "text": thinking, "format": ANTHROPIC_REASONING_FORMAT,
                              "index": index}
    if signature:
        detail["signature"] = signature
    return detail


def encrypted_detail(data: str, index: int) -> dict[str, Any]:
    """A redacted_thinking block (encrypted by Anthropic's safety systems) as a reasoning_details entry."""
    return {"type": "reasoning.encrypted", "data": data, "format": ANTHROPIC_REASONING_FORMAT, "index": index}


def info(message: Mapping[str, Any]) -> UpstreamInfo:
    return UpstreamInfo(model=message.get("model"), id=message.get("id"))


def error_parts(raw: Any) -> tuple[str | None, str]:
    """(error type, message) of an Anthropic error body: {"type": "error", "error": {"type", "message"}}."""
    error = raw.get("error") if isinstance(raw, dict) else None
    if isinstance(error, dict):
        kind = error.get("type")
        return (kind if isinstance(kind, str) else None), str(error.get("message") or "")
    return None, str(error or "")


def map_error(status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
    raw = parse_json_body(body)
    kind, message = error_parts(raw)
    # The error type is the documented contract; the status agrees with it but is the fallback.
    by_type = ERROR_TYPES.get(kind or "")
    table = {status: by_type} if by_type is not None else STATUS_CODES
    return upstream_error(status, headers, raw, message, provider, table)


def error_event(payload: Mapping[str, Any], provider: str | None = None) -> GatewayError:
    """An `error` event inside a 200 stream (e.g. overloaded_error) or a 200 body of type error."""
    kind, message = error_parts(payload)
    status, retryable = ERROR_TYPES.get(kind or "", (502, True))
    metadata: dict[str, Any] = {"raw": dict(payload)}
    if provider:
        metadata["provider_name"] = provider
    return GatewayError(status, f"Upstream error ({kind or 'unknown'}): {message or 'no message'}",
                        metadata=metadata, retryable=retryable)
