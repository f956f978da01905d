"""Events → what one answer holds (the non-streamed answer is the fold); what every answer and chunk carries.

(The answer and the streamed chunks are written straight to bytes: answer.py, chunks.py.)

`Accumulator` watches every event of a generation whichever way it is delivered, so the ledger and the
client's `usage` come from the same numbers.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from lambdarouter.core.events import (
    Finish,
    ImageDelta,
    LogprobsDelta,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UpstreamInfo,
    UsageReport,
)


class _ToolCallParts(Struct):
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class Accumulator(Struct):
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    reasoning_details: list[dict[str, Any]] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # URLs of the images the model generated
    tool_calls: dict[int, _ToolCallParts] = field(default_factory=dict)
    finish: Finish | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    system_fingerprint: str | None = None
    upstream_id: str | None = None  # the provider's own id of the answer (the ledger's `upstream_id`)
    logprobs: list[dict[str, Any]] = field(default_factory=list)  # per output token, when asked for
    produced_output: bool = False

    def add(self, event: StreamEvent) -> None:
        if type(event) is TextDelta:  # most of any stream: no pattern matching
            self.text.append(event.text)
            self.produced_output = True
            return
        match event:
            case TextDelta(text):
                self.text.append(text)
            case RefusalDelta(text):
                self.refusal.append(text)
            case ReasoningDelta(text, detail):
                if text:
                    self.reasoning.append(text)
                if detail is not None:
                    self.reasoning_details.append(detail)
            case ImageDelta(url):
                self.images.append(url)
            case ToolCallDelta(index, call_id, name, arguments):
                parts = self.tool_calls.setdefault(index, _ToolCallParts())
                parts.id = call_id or parts.id
                parts.name = name or parts.name
                parts.arguments.append(arguments)
            case Finish():
                self.finish = event
            case UsageReport(usage):
                self.usage = self.usage.merge(usage)
            case UpstreamInfo(_, fingerprint, upstream_id):
                self.system_fingerprint = fingerprint or self.system_fingerprint
                self.upstream_id = upstream_id or self.upstream_id
            case LogprobsDelta(content):
                self.logprobs.extend(content)
        if not isinstance(event, (UsageReport, UpstreamInfo, Finish, LogprobsDelta)):
            self.produced_output = True


class Identity(Struct, frozen=True):
    """What every chunk and completion of one generation carries."""

    id: str
    created: int
    model: str
    provider: str


# HTTP status of the error → OpenRouter's `ApiErrorType` (components/schemas/ApiErrorType of its OpenAPI
# document, tests/openrouter_api/openapi.yaml), which its mid-stream error chunk requires in `metadata.error_type`.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request", 401: "authentication", 402: "payment_required", 403: "permission_denied",
    404: "not_found", 408: "timeout", 412: "precondition_failed", 413: "payload_too_large", 422: "unprocessable",
    429: "rate_limit_exceeded", 502: "provider_unavailable", 503: "provider_overloaded", 504: "timeout",
    524: "timeout", 529: "provider_overloaded",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "server" if status >= 500 else "unmapped")
