"""POST /embeddings wire format: OpenAI's request and response, plus OpenRouter's `provider` / `models`.

Reference: https://platform.openai.com/docs/api-reference/embeddings/create. `input` is a string, an array
of strings, one token array or an array of token arrays; `encoding_format` float | base64.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambdarouter.core.errors import bad_request
from lambdarouter.dialects.openrouter.preferences import ProviderPreferences
from lambdarouter.dialects.openrouter.wire import MAX_TOKEN_COUNT


class EmbeddingPart(BaseModel):
    """One part of OpenRouter's multimodal input form: `{"content": [{"type": "text", "text"}, ...]}`."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class EmbeddingContent(BaseModel):
    content: list[EmbeddingPart] = Field(min_length=1)


Inputs = str | list[str] | list[int] | list[list[int]] | list[EmbeddingContent]


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # deprecated / unknown fields are accepted and ignored

    model: str | None = None
    models: list[str] | None = None
    input: Inputs
    dimensions: int | None = Field(default=None, ge=1, le=MAX_TOKEN_COUNT)  # Gemini's outputDimensionality is int32
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
    provider: ProviderPreferences | None = None

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: Inputs) -> Inputs:
        if value == "" or value == [] or (isinstance(value, list) and any(v in ("", []) for v in value)):
            raise ValueError("input must not be empty (nor hold an empty string or token array)")
        return value

    def texts(self) -> list[str] | None:
        """The inputs as strings, or None when they are token arrays. The content-part form's text parts are
        one input each object; a part that is not text (an image, audio, a video, a file) is a 400 naming it:
        the embedding adapters take text only."""
        if isinstance(self.input, str):
            return [self.input]
        if self.input and all(isinstance(item, EmbeddingContent) for item in self.input):
            return [_text_of(item, i) for i, item in enumerate(self.input) if isinstance(item, EmbeddingContent)]
        if all(isinstance(item, str) for item in self.input):
            return [str(item) for item in self.input]
        return None

    def token_arrays(self) -> list[list[int]]:
        """The inputs as token arrays (only meaningful when `texts()` is None)."""
        flat = [item for item in self.input if isinstance(item, int)]
        if len(flat) == len(self.input):
            return [flat]
        arrays = [item for item in self.input if isinstance(item, list)]
        if len(arrays) != len(self.input):
            raise bad_request("input mixes strings and token arrays.")
        return arrays


def _text_of(item: EmbeddingContent, index: int) -> str:
    for j, part in enumerate(item.content):
        if part.type != "text" or part.text is None:
            raise bad_request(f"input[{index}].content[{j}] is {part.type} input: the gateway's embedding models take "
                              "text only.", param=f"input[{index}].content[{j}]")
    return "\n".join(part.text or "" for part in item.content)


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # str: base64 of little-endian float32, as OpenAI sends it


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int
    cost: float


class EmbeddingResponse(BaseModel):
    id: str
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    provider: str
    usage: EmbeddingUsage
