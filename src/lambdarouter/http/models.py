"""The catalog routes, in OpenRouter's shapes: GET /models, /models/count, /model/{author}/{slug} (OpenRouter's
SDKs), /models/{author}/{slug} (the `openai` SDKs' `models.retrieve`), /models/{author}/{slug}/endpoints and
/providers.

The catalog does not change while a process lives, so each answer is rendered once and reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cache

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.core.catalog import Catalog
from lambdarouter.core.catalog.spec import EndpointSpec, ModelSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.openrouter import model_query
from lambdarouter.dialects.openrouter.models import (
    Architecture,
    Endpoint,
    EndpointsData,
    EndpointsResponse,
    Model,
    ModelCount,
    ModelLinks,
    ModelList,
    ModelResponse,
    ModelsCountResponse,
    OpenAIModel,
    Pricing,
    Provider,
    ProvidersResponse,
    TopProvider,
)
from lambdarouter.http.catalog import catalog_of

# OpenRouter's `Parameter` enum (components/schemas/Parameter of its OpenAPI document): the request parameters
# `supported_parameters` may name. The catalog also knows image-API parameters (`size`, `quality`, ...); those
# are not chat parameters and OpenRouter lists none of them.
CHAT_PARAMETERS = frozenset({
    "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty", "repetition_penalty",
    "max_tokens", "max_completion_tokens", "logit_bias", "logprobs", "top_logprobs", "prediction", "seed",
    "response_format", "structured_outputs", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "include_reasoning", "reasoning", "reasoning_effort", "web_search_options", "verbosity",
})
# OpenRouter's `ModelGroup` enum (the tokenizer families it names); any other family is "Other" there.
TOKENIZERS = frozenset({
    "Router", "Media", "Other", "GPT", "Claude", "Gemini", "Gemma", "Grok", "Cohere", "Nova", "Qwen", "Yi",
    "DeepSeek", "Mistral", "Llama2", "Llama3", "Llama4", "PaLM", "RWKV", "Qwen3",
})
API_PREFIX = "/api/v1"


def usd(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def pricing(endpoint: EndpointSpec) -> Pricing:
    return Pricing(
        prompt=format(endpoint.prompt.normalize(), "f"), completion=format(endpoint.completion.normalize(), "f"),
        request=format(endpoint.request.normalize(), "f"), image=format(endpoint.image.normalize(), "f"),
        web_search=format(endpoint.web_search.normalize(), "f"), internal_reasoning=usd(endpoint.reasoning) or "0",
        input_cache_read=usd(endpoint.cache_read), input_cache_write=usd(endpoint.cache_write),
        input_cache_write_1h=usd(endpoint.cache_write_1h),
        image_output=usd(endpoint.image_output),
    )


def architecture(model: ModelSpec) -> Architecture:
    modality = "+".join(model.input_modalities) + "->" + "+".join(model.output_modalities)
    tokenizer = model.tokenizer if model.tokenizer in TOKENIZERS else "Other"
    return Architecture(modality=modality, input_modalities=list(model.input_modalities),
                        output_modalities=list(model.output_modalities), tokenizer=tokenizer)


def chat_parameters(catalog: Catalog, endpoints: Sequence[EndpointSpec]) -> list[str]:
    """The chat parameters any of `endpoints` takes."""
    taken: set[str] = set().union(*(catalog.supported_parameters(e) for e in endpoints))
    return sorted(taken & CHAT_PARAMETERS)


def model_entry(catalog: Catalog, model: ModelSpec, alias: str | None = None) -> Model:
    cheapest = min(model.endpoints, key=lambda e: e.prompt + e.completion)
    top = max(model.endpoints, key=lambda e: e.context_length)
    shown = alias or model.id
    return Model(
        id=shown,
        canonical_slug=model.id,
        name=f"{model.name} (alias of {model.id})" if alias else model.name,
        created=model.created,
        description=f"Alias of {model.id}. {model.description}".strip() if alias else model.description,
        context_length=model.context_length,
        architecture=architecture(model),
        pricing=pricing(cheapest),
        top_provider=TopProvider(context_length=top.context_length, max_completion_tokens=top.max_output_tokens),
        supported_parameters=chat_parameters(catalog, model.endpoints),
        hugging_face_id=model.hugging_face_id,
        links=ModelLinks(details=f"{API_PREFIX}/models/{shown}/endpoints"),
    )


# `?output_modalities=` as OpenRouter documents it (https://openrouter.ai/docs/models, "Query Parameters"):
# a comma-separated list of output modalities or `all`; without it, text-output models only.
OUTPUT_MODALITIES = frozenset({"text", "image", "audio", "embeddings", "video", "rerank", "speech", "transcription"})
DEFAULT_OUTPUT = frozenset({"text"})


def output_filter(raw: str | None) -> frozenset[str] | None:
    """The output modalities to list (None: every model), or a 400 naming the unknown ones."""
    if raw is None or not raw.strip():
        return DEFAULT_OUTPUT
    wanted = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    if "all" in wanted:
        return None
    unknown = sorted(wanted - OUTPUT_MODALITIES)
    if unknown:
        raise GatewayError(400, f"Unknown output_modalities {', '.join(unknown)}: use "
                                f"{', '.join(sorted(OUTPUT_MODALITIES))} or all (comma-separated).")
    return wanted


@cache
def listed_models(catalog: Catalog, output: frozenset[str] | None = DEFAULT_OUTPUT) -> tuple[Model, ...]:
    """Every model and alias whose output modalities meet the filter (None: all)."""
    def listed(model: ModelSpec) -> bool:
        return output is None or not output.isdisjoint(model.output_modalities)

    entries = [model_entry(catalog, m) for m in catalog.models.values() if listed(m)]
    entries += [model_entry(catalog, catalog.models[t], alias=a) for a, t in catalog.aliases.items()
                if listed(catalog.models[t])]
    return tuple(entries)


@cache
def models_body(catalog: Catalog, output: frozenset[str] | None = DEFAULT_OUTPUT) -> bytes:
    entries = list(listed_models(catalog, output))
    return ModelList(data=entries, total_count=len(entries)).model_dump_json().encode()


def _json(body: BaseModel) -> Response:
    return Response(body.model_dump_json(), media_type="application/json")


async def list_models(request: Request) -> Response:
    output = output_filter(request.query_params.get("output_modalities"))
    catalog = catalog_of(request)
    selected = model_query.select(ModelList.model_validate_json(models_body(catalog, output)).data,
                                  request.query_params) if set(request.query_params) - {"output_modalities"} else None
    if selected is None:
        return Response(models_body(catalog, output), media_type="application/json")
    page, total = selected
    return Response(ModelList(data=page, total_count=total).model_dump_json(), media_type="application/json")


async def count_models(request: Request) -> Response:
    output = output_filter(request.query_params.get("output_modalities"))
    return _json(ModelsCountResponse(data=ModelCount(count=len(listed_models(catalog_of(request), output)))))


def _requested(request: Request) -> tuple[Catalog, str, ModelSpec]:
    """(catalog, the id as asked, the model it names after aliases), or a 404."""
    catalog = catalog_of(request)
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    model = catalog.models.get(catalog.aliases.get(model_id, model_id))
    if model is None:
        raise GatewayError(404, f"Model {model_id} not found.")
    return catalog, model_id, model


async def get_model(request: Request) -> Response:
    catalog, model_id, model = _requested(request)
    return _json(ModelResponse(data=model_entry(catalog, model, alias=model_id if model_id != model.id else None)))


async def retrieve_model(request: Request) -> Response:
    catalog, model_id, model = _requested(request)
    entry = model_entry(catalog, model, alias=model_id if model_id != model.id else None)
    return _json(OpenAIModel(**dict(entry), owned_by=model_id.split("/")[0]))


def implicit_caching(endpoint: EndpointSpec) -> bool:
    """Cached prompt tokens are billed, but nothing for writing them: the host caches on its own (OpenAI,
    Gemini 2.5, DeepSeek), unlike hosts whose caches are written on request and priced so (Anthropic, Bedrock)."""
    return endpoint.cache_read is not None and endpoint.cache_write is None


def endpoint_entry(catalog: Catalog, model: ModelSpec, endpoint: EndpointSpec) -> Endpoint:
    host = catalog.host(endpoint.host)
    parameters = chat_parameters(catalog, [endpoint])
    return Endpoint(
        name=f"{host.display_name} | {endpoint.upstream_id}", model_id=model.id, model_name=model.name,
        context_length=endpoint.context_length, pricing=pricing(endpoint), provider_name=host.display_name,
        tag=host.name, quantization=endpoint.quantization, max_completion_tokens=endpoint.max_output_tokens,
        supported_parameters=parameters, supports_implicit_caching=implicit_caching(endpoint),
        supports_tool_choice=dict.fromkeys(("auto", "none", "required", "function"), "tool_choice" in parameters),
    )


async def list_endpoints(request: Request) -> Response:
    catalog, _, model = _requested(request)
    data = EndpointsData(id=model.id, name=model.name, created=model.created, description=model.description,
                         architecture=architecture(model),
                         endpoints=[endpoint_entry(catalog, model, e) for e in model.endpoints])
    return _json(EndpointsResponse(data=data))


async def list_providers(request: Request) -> Response:
    catalog = catalog_of(request)
    return _json(ProvidersResponse(data=[Provider(name=h.display_name, slug=h.name) for h in catalog.hosts.values()]))


ROUTES = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models/count", count_models, methods=["GET"]),
    Route("/models/{author}/{slug}", retrieve_model, methods=["GET"]),
    Route("/models/{author}/{slug}/endpoints", list_endpoints, methods=["GET"]),
    Route("/model/{author}/{slug}", get_model, methods=["GET"]),
    Route("/providers", list_providers, methods=["GET"]),
]
