"""OpenRouter's catalog shapes: `Model`, the model list and count, one model's endpoints, providers
(https://openrouter.ai/docs/api-reference/list-available-models; the schemas `ModelsListResponse`, `Model`,
`ListEndpointsResponse`, `PublicEndpoint` and `listProviders` of OpenRouter's OpenAPI document).

Prices are strings of USD per token (per image / request for those units), as OpenRouter sends them; a price
the catalog does not have is left out, never null. Fields OpenRouter requires that the gateway has no value
for (it measures no uptime or latency per endpoint, has no voices) are present and null, as the schema allows:
docs/openrouter-compatibility.md lists them and why.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


def _absent_when_none(value: object) -> bool:
    return value is None


class Architecture(BaseModel):
    modality: str
    input_modalities: list[str]
    output_modalities: list[str]
    tokenizer: str | None
    instruct_type: str | None = None


class Pricing(BaseModel):
    prompt: str
    completion: str
    request: str = "0"
    image: str = "0"
    web_search: str = "0"
    internal_reasoning: str = "0"
    input_cache_read: str | None = Field(default=None, exclude_if=_absent_when_none)
    input_cache_write: str | None = Field(default=None, exclude_if=_absent_when_none)
    input_cache_write_1h: str | None = Field(default=None, exclude_if=_absent_when_none)
    # per token of a generated image (OpenRouter's field)
    image_output: str | None = Field(default=None, exclude_if=_absent_when_none)


class TopProvider(BaseModel):
    context_length: int | None
    max_completion_tokens: int | None
    is_moderated: bool = False


class ModelLinks(BaseModel):
    details: str  # where this model's endpoints are listed


class Model(BaseModel):
    id: str
    canonical_slug: str
    name: str
    created: int
    description: str
    context_length: int
    architecture: Architecture
    pricing: Pricing
    top_provider: TopProvider
    per_request_limits: dict[str, str] | None = None
    supported_parameters: list[str]
    default_parameters: dict[str, Any] | None = None  # the catalog sets no sampling defaults of its own
    supported_voices: list[str] | None = None  # no text-to-speech models here
    hugging_face_id: str | None = None
    links: ModelLinks


class ListLinks(BaseModel):
    next: str | None = None  # the whole list is one page


class ModelList(BaseModel):
    data: list[Model]
    total_count: int
    links: ListLinks = Field(default_factory=ListLinks)


class ModelResponse(BaseModel):
    """GET /model/{author}/{slug} (OpenRouter SDK `models.get`)."""

    data: Model


class OpenAIModel(Model):
    """GET /models/{author}/{slug} (the `openai` SDKs' `models.retrieve`): OpenRouter's `Model` plus the
    fields of OpenAI's Model object."""

    object: Literal["model"] = "model"
    owned_by: str


class ModelCount(BaseModel):
    count: int


class ModelsCountResponse(BaseModel):
    data: ModelCount


class Endpoint(BaseModel):
    name: str
    model_id: str
    model_name: str
    context_length: int
    pricing: Pricing
    provider_name: str
    tag: str
    quantization: str | None = None
    max_completion_tokens: int | None
    max_prompt_tokens: int | None = None
    supported_parameters: list[str]
    status: int = 0
    supports_implicit_caching: bool
    # Which `tool_choice` values it takes (`auto`, `none`, `required`, `function`): the adapters translate each
    # for every wire format, so all or none, as the endpoint takes `tool_choice` at all.
    supports_tool_choice: dict[str, bool]
    native_tools: dict[str, Any] = Field(default_factory=dict)  # no provider-side server tools are offered
    service_tier: str | None = None  # standard endpoints only
    supports_diarization: bool = False  # no speech-to-text here
    # Not measured here (docs/openrouter-compatibility.md): null, as OpenRouter's schema allows.
    uptime_last_30m: float | None = None
    uptime_last_5m: float | None = None
    uptime_last_1d: float | None = None
    latency_last_30m: dict[str, float] | None = None
    throughput_last_30m: dict[str, float] | None = None


class EndpointsData(BaseModel):
    id: str
    name: str
    created: int
    description: str
    architecture: Architecture
    endpoints: list[Endpoint]


class EndpointsResponse(BaseModel):
    data: EndpointsData


class Provider(BaseModel):
    """One host, in OpenRouter's `listProviders` shape. The policy URLs are not in the gateway's host data."""

    name: str
    slug: str
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    status_page_url: str | None = None


class ProvidersResponse(BaseModel):
    data: list[Provider]
