"""The one stream event type every adapter produces, streamed or not.

Adapters translate a provider's stream (or its whole response) into these events; the service turns
them into OpenAI chunks or folds them into one completion. One type for both paths means the streamed
and non-streamed answers cannot drift apart (the simonw/llm approach).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Provider-reported token counts in OpenAI's semantics.

    `prompt_tokens` includes cached reads and cache writes (Anthropic and Bedrock report them apart;
    their adapters add them in). `completion_tokens` includes reasoning tokens and image tokens (the
    tokens of images the model generated, which Gemini prices apart from text output).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    image_tokens: int = 0

    def merge(self, other: TokenUsage) -> TokenUsage:
        """Later reports win field by field where they are non-zero (providers report usage in pieces)."""
        return TokenUsage(
            other.prompt_tokens or self.prompt_tokens,
            other.completion_tokens or self.completion_tokens,
            other.cached_tokens or self.cached_tokens,
            other.cache_write_tokens or self.cache_write_tokens,
            other.reasoning_tokens or self.reasoning_tokens,
            other.image_tokens or self.image_tokens,
        )


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Reasoning text and/or one OpenRouter `reasoning_details` entry (signatures, encrypted blobs)."""

    text: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ImageDelta:
    """One whole image the model generated, as a URL (a `data:` URL of its bytes): OpenRouter's
    `message.images[]` / `delta.images[]` entry (https://openrouter.ai/docs/features/multimodal/image-generation)."""

    url: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call; `index` is dense and 0-based across the response (see toolcalls.py)."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason
    native: str | None = None


@dataclass(frozen=True, slots=True)
class UsageReport:
    usage: TokenUsage


@dataclass(frozen=True, slots=True)
class UpstreamInfo:
    """Metadata from the upstream response that is not content (its own id, model, fingerprint)."""

    model: str | None = None
    system_fingerprint: str | None = None
    id: str | None = None  # the provider's own id of this response: /generation's `upstream_id`


StreamEvent = (TextDelta | RefusalDelta | ReasoningDelta | ImageDelta | ToolCallDelta | Finish | UsageReport
               | UpstreamInfo)
