"""The documented shapes of a chat answer and of its stream's chunks, as pydantic models: what the OpenAPI document
(http/openapi.py) publishes, and what the tests hold the written bytes to. The request path does not build them: a
non-streamed answer is written by answer.py, a chunk by chunks.py, straight to bytes (issues 19 and 20)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from lambdarouter.dialects.openrouter.messages import ToolCall


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int = 0
    image_tokens: int = 0  # tokens of generated images (OpenRouter reports them here)


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails = Field(default_factory=PromptTokensDetails)
    completion_tokens_details: CompletionTokensDetails = Field(default_factory=CompletionTokensDetails)
    cost: float = 0.0


class ImageURL(BaseModel):
    url: str


class GeneratedImage(BaseModel):
    """An image the model generated: OpenRouter's `images[]` entry, a `data:` URL of the image's bytes
    (https://openrouter.ai/docs/features/multimodal/image-generation, "Response Format")."""

    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


def _absent_when_none(value: object) -> bool:
    return value is None


class ResponseMessage(BaseModel):
    """`content`, `refusal` and `reasoning` are null when empty (OpenAI's shape); the optional arrays are left
    out instead: OpenRouter's schema types them as arrays, and its SDKs reject a null there."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = Field(default=None, exclude_if=_absent_when_none)
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = Field(default=None, exclude_if=_absent_when_none)
    images: list[GeneratedImage] | None = Field(default=None, exclude_if=_absent_when_none)


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


class Choice(BaseModel):
    index: int = 0
    message: ResponseMessage
    finish_reason: FinishReason | None = None
    native_finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    provider: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None


class ToolCallFunctionDelta(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: ToolCallFunctionDelta


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None
    images: list[GeneratedImage] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: FinishReason | None = None
    native_finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _finish_reason_always(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Chunks are sent without their null fields, but `finish_reason` stays: OpenRouter's schema requires it
        (null until the last chunk), and its SDKs reject a chunk without it."""
        out: dict[str, Any] = handler(self)
        out.setdefault("finish_reason", None)
        return out


class ChunkError(BaseModel):
    """OpenRouter's mid-stream error: `metadata.error_type` (one of its `ApiErrorType` values) is required."""

    code: int
    message: str
    metadata: dict[str, Any]


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    provider: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    error: ChunkError | None = None
