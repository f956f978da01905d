"""GET /models and GET /models/{author}/{slug}/endpoints, in OpenRouter's shapes.

The catalog does not change while a process lives, so each answer is rendered once and reused.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.core.catalog import Catalog, load_catalog
from lambdarouter.core.catalog.spec import EndpointSpec, ModelSpec
from lambdarouter.core.config import Settings
from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.openrouter.models import (
    Architecture,
    Endpoint,
    EndpointsData,
    EndpointsResponse,
    Model,
    ModelList,
    Pricing,
    TopProvider,
)


def catalog_of(request: Request) -> Catalog:
    catalog: Catalog | None = getattr(request.app.state, "catalog", None)
    if catalog is None:
        catalog = request.app.state.catalog = load_catalog(Settings.from_env().config_path)
    return catalog


def usd(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def pricing(endpoint: EndpointSpec) -> Pricing:
    return Pricing(
        prompt=format(endpoint.prompt.normalize(), "f"), completion=format(endpoint.completion.normalize(), "f"),
        request=format(endpoint.request.normalize(), "f"), image=format(endpoint.image.normalize(), "f"),
        internal_reasoning=usd(endpoint.reasoning) or "0",
        input_cache_read=usd(endpoint.cache_read), input_cache_write=usd(endpoint.cache_write),
        image_output=usd(endpoint.image_output),
    )


def architecture(model: ModelSpec) -> Architecture:
    modality = "+".join(model.input_modalities) + "->" + "+".join(model.output_modalities)
    return Architecture(modality=modality, input_modalities=list(model.input_modalities),
                        output_modalities=list(model.output_modalities), tokenizer=model.tokenizer)


def model_entry(catalog: Catalog, model: ModelSpec, alias: str | None = None) -> Model:
    cheapest = min(model.endpoints, key=lambda e: e.prompt + e.completion)
    params = sorted(set().union(*(catalog.supported_parameters(e) for e in model.endpoints)))
    top = max(model.endpoints, key=lambda e: e.context_length)
    return Model(
        id=alias or model.id,
        canonical_slug=model.id,
        name=f"{model.name} (alias of {model.id})" if alias else model.name,
        created=model.created,
        description=f"Alias of {model.id}. {model.description}".strip() if alias else model.description,
        context_length=model.context_length,
        architecture=architecture(model),
        pricing=pricing(cheapest),
        top_provider=TopProvider(context_length=top.context_length, max_completion_tokens=top.max_output_tokens),
        supported_parameters=params,
        hugging_face_id=model.hugging_face_id,
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
def models_body(catalog: Catalog, output: frozenset[str] | None = DEFAULT_OUTPUT) -> bytes:
    def listed(model: ModelSpec) -> bool:
        return output is None or not output.isdisjoint(model.output_modalities)

    entries = [model_entry(catalog, m) for m in catalog.models.values() if listed(m)]
    entries += [model_entry(catalog, catalog.models[t], alias=a) for a, t in catalog.aliases.items()
                if listed(catalog.models[t])]
    return ModelList(data=entries).model_dump_json().encode()


async def list_models(request: Request) -> Response:
    output = output_filter(request.query_params.get("output_modalities"))
    return Response(models_body(catalog_of(request), output), media_type="application/json")


def endpoint_entry(catalog: Catalog, model: ModelSpec, endpoint: EndpointSpec) -> Endpoint:
    host = catalog.host(endpoint.host)
    return Endpoint(
        name=f"{host.display_name} | {endpoint.upstream_id}", model_name=model.name,
        context_length=endpoint.context_length, pricing=pricing(endpoint), provider_name=host.display_name,
        tag=host.name, quantization=endpoint.quantization, max_completion_tokens=endpoint.max_output_tokens,
        supported_parameters=sorted(catalog.supported_parameters(endpoint)),
    )


async def list_endpoints(request: Request) -> Response:
    catalog = catalog_of(request)
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    model = catalog.models.get(catalog.aliases.get(model_id, model_id))
    if model is None:
        raise GatewayError(404, f"Model {model_id} not found.")
    data = EndpointsData(id=model.id, name=model.name, created=model.created, description=model.description,
                         architecture=architecture(model),
                         endpoints=[endpoint_entry(catalog, model, e) for e in model.endpoints])
    return Response(EndpointsResponse(data=data).model_dump_json(), media_type="application/json")


ROUTES = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models/{author}/{slug}/endpoints", list_endpoints, methods=["GET"]),
]
