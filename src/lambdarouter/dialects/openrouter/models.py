"""OpenRouter's `Model` and endpoints shapes (https://openrouter.ai/docs/api-reference/list-available-models).

Prices are strings of USD per token (per image / request for those units), as OpenRouter sends them.
"""

from __future__ import annotations

from pydantic import BaseModel


class Architecture(BaseModel):
    modality: str
    input_modalities: list[str]
    output_modalities: list[str]
    tokenizer: str
    instruct_type: str | None = None


class Pricing(BaseModel):
    prompt: str
    completion: str
    request: str = "0"
    image: str = "0"
    web_search: str = "0"
    internal_reasoning: str = "0"
    input_cache_read: str | None = None
    input_cache_write: str | None = None
    image_output: str | None = None  # per token of a generated image (OpenRouter's field)


class TopProvider(BaseModel):
    context_length: int | None
    max_completion_tokens: int | None
    is_moderated: bool = False


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
    hugging_face_id: str | None = None


class ModelList(BaseModel):
    data: list[Model]


class Endpoint(BaseModel):
    name: str
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
    uptime_last_30m: float | None = None


class EndpointsData(BaseModel):
    id: str
    name: str
    created: int
    description: str
    architecture: Architecture
    endpoints: list[Endpoint]


class EndpointsResponse(BaseModel):
    data: EndpointsData
