"""The one stream event type every adapter produces, streamed or not.

Adapters translate a provider's stream (or its whole response) into these events; the service turns
them into OpenAI chunks or folds them into one completion. One type for both paths means the streamed
and non-streamed answers cannot drift apart (the simonw/llm approach).

An event is checked when it is built: an adapter copies what the provider sent into it, and a provider may
send anything in a 200 (`content` as a number, usage as strings, negative or fractional counts). What does not
fit raises `MalformedEvent` right there, inside the adapter, where the gateway's seam turns it into an upstream
fault (a 502 another endpoint may answer) instead of an error somewhere downstream, after the books opened.
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

from msgspec import Struct

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]
FINISH_REASONS: frozenset[str] = frozenset(get_args(FinishReason))


class MalformedEvent(ValueError):
    """A provider's answer does not fit the event it was read into; the message says which field, never
    its value (which may be anything the provider sent)."""


def token_count(value: Any, name: str = "a token count") -> int:
    """A provider's token count: a finite non-negative integer (an integral float passes, as JSON may carry
    one); absent (None) is 0. Anything else is a malformed answer: a count must never be guessed from a
    string, rounded from a fraction, or allowed to credit the key."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
        return int(value)
    raise MalformedEvent(f"{name} is not a non-negative integer")


def _text(value: Any, name: str, optional: bool = False) -> None:
    if not (isinstance(value, str) or (optional and value is None)):
        raise MalformedEvent(f"{name} is not a string")


class TokenUsage(Struct, frozen=True):
    """Provider-reported token counts in OpenAI's semantics, and the server-tool uses billed per use.

    `prompt_tokens` includes cached reads and cache writes (Anthropic and Bedrock report them apart;
    their adapters add them in). `cache_write_tokens` counts every cache write; `cache_write_1h_tokens` is the
    part of it written with Anthropic's one-hour TTL, billed at 2x the input price where a five-minute write
    is 1.25x (https://platform.claude.com/docs/en/build-with-claude/prompt-caching#pricing).
    `completion_tokens` includes reasoning tokens and image tokens (the tokens of images the model
    generated, which Gemini prices apart from text output). `web_search_requests` / `web_fetch_requests`
    are the searches and fetches Anthropic's server tools ran for this answer (`usage.server_tool_use`).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    image_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_search_requests: int = 0
    web_fetch_requests: int = 0

    def __post_init__(self) -> None:
        for name in USAGE_FIELDS:
            value = getattr(self, name)
            if not (type(value) is int and value >= 0):
                raise MalformedEvent(f"usage {name} is not a non-negative integer")

    def merge(self, other: TokenUsage) -> TokenUsage:
        """Later reports win field by field where they are non-zero (providers report usage in pieces)."""
        return TokenUsage(*(getattr(other, name) or getattr(self, name) for name in USAGE_FIELDS))


# Its fields' names, kept on the class by msgspec (a usage is built several times a request: the provider's
# report, the books' merge, the priced usage).
USAGE_FIELDS: tuple[str, ...] = TokenUsage.__struct_fields__


class TextDelta(Struct, frozen=True):
    text: str

    def __post_init__(self) -> None:
        _text(self.text, "text content")


class RefusalDelta(Struct, frozen=True):
    text: str

    def __post_init__(self) -> None:
        _text(self.text, "a refusal")


class ReasoningDelta(Struct, frozen=True):
    """Reasoning text and/or one OpenRouter `reasoning_details` entry (signatures, encrypted blobs)."""

    text: str | None = None
    detail: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _text(self.text, "reasoning text", optional=True)
        if not (self.detail is None or isinstance(self.detail, dict)):
            raise MalformedEvent("a reasoning detail is not an object")


class ImageDelta(Struct, frozen=True):
    """One whole image the model generated, as a URL (a `data:` URL of its bytes): OpenRouter's
    `message.images[]` / `delta.images[]` entry (https://openrouter.ai/docs/features/multimodal/image-generation)."""

    url: str

    def __post_init__(self) -> None:
        _text(self.url, "an image URL")


class LogprobsDelta(Struct, frozen=True):
    """Log probabilities of output tokens, in OpenAI's shape: `{"token", "logprob", "bytes", "top_logprobs"}`
    per token (https://platform.openai.com/docs/api-reference/chat/object, `choices[].logprobs.content`)."""

    content: tuple[dict[str, Any], ...]

    def __post_init__(self) -> None:
        if not all(isinstance(entry, dict) and isinstance(entry.get("token"), str)
                   and isinstance(entry.get("logprob"), int | float) for entry in self.content):
            raise MalformedEvent("a log probability is not a token with a number")


class ToolCallDelta(Struct, frozen=True):
    """A piece of a tool call; `index` is dense and 0-based across the response (see toolcalls.py)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    def __post_init__(self) -> None:
        if not (type(self.index) is int and self.index >= 0):
            raise MalformedEvent("a tool call index is not a non-negative integer")
        _text(self.id, "a tool call id", optional=True)
        _text(self.name, "a tool call name", optional=True)
        _text(self.arguments, "tool call arguments")


class Finish(Struct, frozen=True):
    reason: FinishReason
    native: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in FINISH_REASONS:
            raise MalformedEvent("a finish reason is not one of the known ones")
        _text(self.native, "a finish reason", optional=True)


class UsageReport(Struct, frozen=True):
    usage: TokenUsage

    def __post_init__(self) -> None:
        if not isinstance(self.usage, TokenUsage):
            raise MalformedEvent("a usage report is not a usage")


class UpstreamInfo(Struct, frozen=True):
    """Metadata from the upstream response that is not content (its own id, model, fingerprint)."""

    model: str | None = None
    system_fingerprint: str | None = None
    id: str | None = None  # the provider's own id of this response: /generation's `upstream_id`

    def __post_init__(self) -> None:
        _text(self.model, "the model name", optional=True)
        _text(self.system_fingerprint, "the system fingerprint", optional=True)
        _text(self.id, "the response id", optional=True)


StreamEvent = (TextDelta | RefusalDelta | ReasoningDelta | ImageDelta | ToolCallDelta | Finish | UsageReport
               | UpstreamInfo | LogprobsDelta)
