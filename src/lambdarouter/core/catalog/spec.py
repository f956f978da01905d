"""Typed catalog entries: a model and the endpoints (host + upstream id + price) that serve it.

Prices are `Decimal` USD per token so costs are exact; they are written as strings in the data file and
in `/models`, as OpenRouter does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambdarouter.core.formats import REGISTRY

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
    # USD per token written to the cache with a one-hour TTL (OpenRouter's `input_cache_write_1h`); `cache_write`
    # is the five-minute rate. None: the five-minute rate.
    cache_write_1h: Decimal | None = Field(default=None, ge=0)
    reasoning: Decimal | None = Field(default=None, ge=0)
    request: Decimal = Field(default=Decimal(0), ge=0)
    image: Decimal = Field(default=Decimal(0), ge=0)
    # USD per token of a GENERATED image (OpenRouter's `image_output`): models that draw images in chat
    # (Gemini's image models) bill those output tokens apart from text output. None: the completion price.
    image_output: Decimal | None = Field(default=None, ge=0)
    # USD per web search a provider's server tool ran (OpenRouter's `web_search`): Anthropic bills them per use.
    web_search: Decimal = Field(default=Decimal(0), ge=0)
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
    wire_format: str = "openai"  # a name in the registry of wire formats (core/formats.py)
    base_url: str | None = None
    api_key_env: str | None = None
    base_url_env: str | None = None
    auth: str | None = None  # one of the format's auth styles; unset: its default (the registry's first)
    headers: dict[str, str] = Field(default_factory=dict)
    data_collection: bool = False
    connect_timeout: float | None = Field(default=None, gt=0)
    read_timeout: float | None = Field(default=None, gt=0)
    options_env: dict[str, str] = Field(default_factory=dict)  # the family's named settings → their variables

    @model_validator(mode="after")
    def _known_format_and_auth(self) -> HostRow:
        row = REGISTRY.get(self.wire_format)
        if row is None:
            raise ValueError(f"wire_format must be one of {', '.join(REGISTRY)} (got {self.wire_format!r})")
        if self.auth is not None and self.auth not in row.auth:
            raise ValueError(f"auth of a {self.wire_format} host must be one of {', '.join(row.auth)}")
        return self


class ExtraEndpoint(EndpointSpec):
    model: str


CatalogFile.model_rebuild()
