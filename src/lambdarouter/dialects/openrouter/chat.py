"""Chat completion request (the answer and its chunks: answer.py, chunks.py; their documented shapes: answer_schema.py).

Request fields: OpenAI's Chat Completions API (https://platform.openai.com/docs/api-reference/chat/create)
plus OpenRouter's extensions (https://openrouter.ai/docs/api-reference/parameters and
https://openrouter.ai/docs/features/provider-routing). Unknown top-level fields are ignored, as OpenRouter
does, so deprecated or newer fields never make a request fail. Ranges are OpenAI's: out-of-range values are
a 400 here, never clamped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambdarouter.core.errors import bad_request
from lambdarouter.dialects.openrouter.messages import (
    CacheControl,
    ImagePart,
    Message,
    ResponseFormat,
    ServerToolChoice,
    Tool,
    ToolChoice,
    WireModel,
)
from lambdarouter.dialects.openrouter.plugins import (
    Plugin,
    check_plugins,
    check_server_tools,
    check_transforms,
    check_variants,
)
from lambdarouter.dialects.openrouter.preferences import MaxPrice, ProviderPreferences, SortConfig
from lambdarouter.dialects.openrouter.wire import MAX_TOKEN_COUNT

__all__ = ["MaxPrice", "ProviderPreferences", "SortConfig"]  # re-exported: their home was this module

# Limits checked before any upstream call (a clear 400 instead of a provider's error or a huge bill). The
# body itself is capped at API Gateway's 10 MB (http/chat.py). Tools: OpenAI's own maximum. Messages and
# images: well above what any provider takes in one request (Anthropic 100 images, Bedrock 20, OpenAI 500),
# so only abuse meets them.
MAX_MESSAGES = 4096
MAX_TOOLS = 128
MAX_IMAGES = 500
MAX_STOP_SEQUENCES = 16
# Token counts past int32 are a typo or an attack: no provider takes them (Gemini's maxOutputTokens and topK, and
# Bedrock's maxTokens, are int32 fields), and they would reach the reservation's arithmetic first.
TokenCount = Annotated[int, Field(ge=1, le=MAX_TOKEN_COUNT)]
# OpenAI: "values between -100 and 100" (https://platform.openai.com/docs/api-reference/chat/create#logit_bias).
LogitBias = Annotated[float, Field(ge=-100, le=100)]


# OpenRouter's reasoning effort (`reasoning.effort`, `reasoning_effort`) and `verbosity` values (its OpenAPI
# document and https://openrouter.ai/docs/api-reference/parameters).
Effort = Literal["max", "xhigh", "high", "medium", "low", "minimal", "none"]
Verbosity = Literal["low", "medium", "high", "xhigh", "max"]


class ReasoningConfig(WireModel):
    effort: Effort | None = None
    max_tokens: int | None = Field(default=None, ge=0, le=MAX_TOKEN_COUNT)
    exclude: bool | None = None
    enabled: bool | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


class UsageConfig(WireModel):
    include: bool | None = None


class StreamOptions(WireModel):
    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)  # JSON has no NaN; Python's parser takes it

    model: str | None = None
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)

    # OpenAI sampling and output controls
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    seed: int | None = None
    stop: str | Annotated[list[str], Field(max_length=MAX_STOP_SEQUENCES)] | None = None
    logit_bias: dict[str, LogitBias] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    reasoning_effort: Effort | None = None
    # Output modalities: OpenAI's ("text", "audio") and OpenRouter's "image"
    # (https://openrouter.ai/docs/features/multimodal/image-generation). Anything else is a 400 here.
    modalities: list[Literal["text", "audio", "image"]] | None = Field(default=None, min_length=1, max_length=3)
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    verbosity: Verbosity | None = None
    web_search_options: dict[str, Any] | None = None
    user: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_options: dict[str, Any] | None = None

    # OpenRouter extensions
    models: list[str] | None = None
    provider: ProviderPreferences | None = None
    reasoning: ReasoningConfig | None = None
    usage: UsageConfig | None = None
    transforms: list[str] | None = None
    top_k: int | None = Field(default=None, ge=0, le=MAX_TOKEN_COUNT)
    repetition_penalty: float | None = Field(default=None, gt=0, le=2)
    min_p: float | None = Field(default=None, ge=0, le=1)
    top_a: float | None = Field(default=None, ge=0, le=1)
    plugins: list[Plugin] | None = None
    include_reasoning: bool | None = None  # deprecated alias of `reasoning.exclude` (false: exclude)
    cache_control: CacheControl | None = None  # automatic prompt caching: a breakpoint on the last block
    session_id: str | None = Field(default=None, max_length=256)
    trace: dict[str, Any] | None = None
    image_config: dict[str, Any] | None = None
    debug: dict[str, Any] | None = None
    stop_server_tools_when: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    route: Literal["fallback", "sort"] | None = None  # deprecated alias of provider.sort.partition

    @model_validator(mode="after")
    def _image_count(self) -> ChatCompletionRequest:
        images = sum(1 for m in self.messages if isinstance(content := getattr(m, "content", None), list)
                     for part in content if isinstance(part, ImagePart))
        if images > MAX_IMAGES:
            raise ValueError(f"at most {MAX_IMAGES} images per request (got {images})")
        return self

    @model_validator(mode="after")
    def _meaningful(self) -> ChatCompletionRequest:
        """A 400 naming the field for what cannot mean what it says: contradicting fields, and gateway-side
        features this gateway does not run (`plugins`). A GatewayError, not a ValueError: pydantic lets it
        through as it is."""
        check_combinations(self)
        check_plugins(self.plugins)
        check_server_tools((t.type for t in self.tools or ()),
                           self.tool_choice.type if isinstance(self.tool_choice, ServerToolChoice) else None)
        check_transforms(self.transforms)
        check_variants([self.model or "", *(self.models or ())])
        return self

    def effort(self) -> Effort | None:
        """`reasoning.effort`, else its shorthand `reasoning_effort` (the validator made sure they agree)."""
        return (self.reasoning.effort if self.reasoning else None) or self.reasoning_effort

    def excludes_reasoning(self) -> bool:
        """`reasoning.exclude`, or its deprecated alias `include_reasoning: false`: the model may think, the
        client does not see it."""
        return bool(self.reasoning and self.reasoning.exclude) or self.include_reasoning is False

    def output_token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


def check_combinations(request: ChatCompletionRequest) -> None:
    """Fields that contradict each other, or ask for what one answer cannot give: a 400 naming the field."""
    reasoning = request.reasoning
    effort = reasoning.effort if reasoning else None
    if effort and request.reasoning_effort and effort != request.reasoning_effort:
        raise bad_request(f"reasoning_effort ({request.reasoning_effort}) and reasoning.effort ({effort}) differ: "
                          "send one of them.", param="reasoning_effort")
    if reasoning and effort and reasoning.max_tokens is not None:
        raise bad_request("reasoning takes effort or max_tokens, not both.", param="reasoning.max_tokens")
    if request.include_reasoning and reasoning and reasoning.exclude:
        raise bad_request("include_reasoning: true contradicts reasoning.exclude: true.", param="include_reasoning")
    if request.top_logprobs is not None and not request.logprobs:
        raise bad_request("top_logprobs needs logprobs: true.", param="top_logprobs")
    if (request.n or 1) > 1:
        # One choice per answer (as OpenRouter): several would be billed and all but one thrown away.
        raise bad_request("n above 1 is not offered: each request returns one choice.", param="n")


# Fields that are the gateway's own business and never go upstream.
OPENROUTER_ONLY_FIELDS = frozenset(
    {"models", "provider", "reasoning", "usage", "transforms", "plugins", "top_a", "stream_options"}
)
