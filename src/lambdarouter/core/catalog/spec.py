"""Typed catalog entries: a model and the endpoints (host + upstream id + price) that serve it.

Prices are `Decimal` USD per token so costs are exact; they are written as strings in the data file and
in `/models`, as OpenRouter does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Parameters every chat endpoint of a wire format accepts unless the endpoint lists its own.
# Sources: each provider's chat API reference; names are OpenRouter's `supported_parameters`.
DEFAULT_PARAMETERS: dict[str, tuple[str, ...]] = {
    "openai": (
        "max_tokens", "temperature", "top_p", "stop", "frequency_penalty", "presence_penalty", "seed",
        "logit_bias", "logprobs", "top_logprobs", "response_format", "structured_outputs", "tools",
        "tool_choice",
    ),
    "anthropic": (
        "max_tokens", "temperature", "top_p", "top_k", "stop", "tools", "tool_choice", "reasoning",
        "include_reasoning", "response_format", "structured_outputs",
    ),
    "gemini": (
        "max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "frequency_penalty",
        "presence_penalty", "tools", "tool_choice", "response_format", "structured_outputs", "reasoning",
        "include_reasoning",
    ),
    "bedrock": ("max_tokens", "temperature", "top_p", "stop", "tools", "tool_choice"),
}

# The text APIs a host can serve a model through: `chat` (POST /chat/completions) and `completions`, OpenAI's
# legacy POST /completions taking a `prompt` (https://platform.openai.com/docs/api-reference/completions),
# which only OpenAI-wire-format hosts have. A model served by `completions` only (gpt-3.5-turbo-instruct,
# the GPT base models) cannot answer /chat/completions; /completions on a `chat`-only model is translated.
TextApi = Literal["chat", "completions"]
# Legacy /completions features an endpoint takes natively, named in its `supported_parameters` like
# OpenRouter's names (none of them exists in chat): the gateway refuses a request using one that no
# candidate endpoint lists (400), rather than dropping it silently.
LEGACY_PARAMETERS: tuple[str, ...] = (
    "suffix", "echo", "best_of", "n", "logprobs",
    "prompt_array",  # several prompts in one request (`prompt` as an array of strings or of token arrays)
    "prompt_tokens",  # a prompt given as token ids
)


class EndpointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    upstream_id: str
    context_length: int = Field(gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    prompt: Decimal = Field(ge=0)
    completion: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write: Decimal | None = Field(default=None, ge=0)
    reasoning: Decimal | None = Field(default=None, ge=0)
    request: Decimal = Field(default=Decimal(0), ge=0)
    image: Decimal = Field(default=Decimal(0), ge=0)
    # USD per token of a GENERATED image (OpenRouter's `image_output`): models that draw images in chat
    # (Gemini's image models) bill those output tokens apart from text output. None: the completion price.
    image_output: Decimal | None = Field(default=None, ge=0)
    supported_parameters: tuple[str, ...] | None = None
    quantization: str | None = None
    apis: tuple[TextApi, ...] = Field(default=("chat",), min_length=1)


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*/[a-zA-Z0-9][a-zA-Z0-9._:-]*$")
    name: str
    created: int
    description: str = ""
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    tokenizer: str = "Other"
    hugging_face_id: str | None = None
    endpoints: tuple[EndpointSpec, ...] = Field(min_length=1)

    @property
    def context_length(self) -> int:
        return max(e.context_length for e in self.endpoints)


class CatalogFile(BaseModel):
    """One TOML file: the bundled catalog or a user's `LAMBDAROUTER_CONFIG`."""

    model_config = ConfigDict(extra="forbid")

    aliases: dict[str, str] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(default_factory=list)
    hosts: list[HostRow] = Field(default_factory=list)
    # Endpoints added to a model defined elsewhere (e.g. a host the bundled catalog leaves out).
    endpoints: list[ExtraEndpoint] = Field(default_factory=list)


class HostRow(BaseModel):
    """A user-added host: mirrors `lambdarouter.core.hosts.HostSpec`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    display_name: str | None = None
    wire_format: str = Field(default="openai", pattern=r"^(openai|anthropic|gemini|bedrock)$")
    base_url: str | None = None
    api_key_env: str | None = None
    base_url_env: str | None = None
    auth: str = Field(default="bearer", pattern=r"^(bearer|api-key-header|x-api-key|x-goog-api-key|none)$")
    headers: dict[str, str] = Field(default_factory=dict)
    data_collection: bool = False
    connect_timeout: float | None = Field(default=None, gt=0)
    read_timeout: float | None = Field(default=None, gt=0)


class ExtraEndpoint(EndpointSpec):
    model: str


CatalogFile.model_rebuild()
