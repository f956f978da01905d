"""POST /images/generations wire format: OpenAI's request and response, plus OpenRouter's `provider` / `models`.

Reference: https://platform.openai.com/docs/api-reference/images/create — `prompt`, `model`, `n`, `size`
("WIDTHxHEIGHT" or "auto"), `quality`, `response_format` (url | b64_json), `style`, `background`,
`output_format`; the answer is `{"created", "data": [{"b64_json" | "url", "revised_prompt"}]}`.
Which sizes, counts and options a model takes is the adapter's to say (providers/images.py): the schema
checks only what is true for every model.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambdarouter.dialects.openrouter.preferences import ProviderPreferences

# The most images any supported provider makes in one call (OpenAI: n is 1 to 10).
MAX_IMAGES = 10
SIZE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")


class ImageGenerationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # deprecated / unknown fields are accepted and ignored

    model: str | None = None
    models: list[str] | None = None
    prompt: str
    n: int = Field(default=1, ge=1, le=MAX_IMAGES)
    size: str | None = None
    quality: str | None = None
    # `url`: a presigned S3 URL when a bucket is configured, else a data: URL (gateway/image_store.py). Unset: as OpenAI
    # answers, `b64_json` for GPT Image models (which answer nothing else), `url` for the others.
    response_format: Literal["url", "b64_json"] | None = None
    style: str | None = None
    background: str | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    user: str | None = None
    provider: ProviderPreferences | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be empty")
        return value

    @field_validator("size")
    @classmethod
    def _size_shape(cls, value: str | None) -> str | None:
        if value is not None and value != "auto" and not SIZE.match(value):
            raise ValueError("size must be WIDTHxHEIGHT in pixels (e.g. 1024x1024) or auto")
        return value

    def dimensions(self) -> tuple[int, int] | None:
        """The requested size in pixels, or None for none / `auto`."""
        if self.size is None or self.size == "auto":
            return None
        width, height = self.size.split("x")
        return int(width), int(height)


class OpenRouterImageRequest(BaseModel):
    """POST /images, OpenRouter's image API (its `ImageGenerationRequest`; the OpenRouter SDKs' `images` and the
    Vercel AI SDK's `imageModel`). Always answered in base64. `aspect_ratio`, `resolution`, `seed` and
    `output_compression` have no counterpart in the gateway's image adapters: accepted and ignored, as OpenRouter
    does for providers without that knob."""

    model_config = ConfigDict(extra="ignore")

    model: str
    prompt: str
    n: int = Field(default=1, ge=1, le=MAX_IMAGES)
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    provider: ProviderPreferences | None = None

    def as_generation(self) -> ImageGenerationRequest:
        return ImageGenerationRequest(model=self.model, prompt=self.prompt, n=self.n, size=self.size,
                                      quality=self.quality, background=self.background,
                                      output_format=self.output_format, response_format="b64_json",
                                      provider=self.provider)


class OpenRouterImage(BaseModel):
    b64_json: str
    media_type: str


class OpenRouterImageUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float


class OpenRouterImageResponse(BaseModel):
    created: int
    data: list[OpenRouterImage]
    usage: OpenRouterImageUsage


class ImageData(BaseModel):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImageUsage(BaseModel):
    images: int
    cost: float


class ImageGenerationResponse(BaseModel):
    id: str
    created: int
    data: list[ImageData]
    model: str
    provider: str
    usage: ImageUsage
