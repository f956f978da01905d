"""Model → ordered candidate endpoints, with OpenRouter's provider preferences.

Reference: https://openrouter.ai/docs/features/provider-routing and
https://openrouter.ai/docs/features/model-routing (the `models` fallback list).
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdarouter.catalog import Catalog, ResolvedModel
from lambdarouter.catalog.spec import EndpointSpec, ModelSpec
from lambdarouter.credentials import Credentials
from lambdarouter.errors import GatewayError, bad_request
from lambdarouter.hosts import ResolvedHost, resolve_host
from lambdarouter.schemas.chat import ChatCompletionRequest, ProviderPreferences


@dataclass(frozen=True, slots=True)
class Candidate:
    requested: str
    model: ModelSpec
    endpoint: EndpointSpec
    host: ResolvedHost
    supported_parameters: frozenset[str]


def requested_models(request: ChatCompletionRequest) -> list[str]:
    """`model` then the `models` fallback list, without repeats."""
    ids = ([request.model] if request.model else []) + list(request.models or [])
    if not ids:
        raise bad_request("Request must name a model (`model` or `models`).")
    return list(dict.fromkeys(ids))


def _price(endpoint: EndpointSpec) -> float:
    return float(endpoint.prompt + endpoint.completion)


def order_endpoints(resolved: ResolvedModel, prefs: ProviderPreferences) -> list[EndpointSpec]:
    endpoints = list(resolved.model.endpoints)
    if prefs.sort == "price" or resolved.variant == "floor":
        endpoints.sort(key=_price)
    if prefs.order:
        rank = {name: i for i, name in enumerate(prefs.order)}
        preferred = sorted((e for e in endpoints if e.host in rank), key=lambda e: rank[e.host])
        rest = [e for e in endpoints if e.host not in rank] if prefs.allow_fallbacks else []
        endpoints = preferred + rest
    return endpoints


def plan(request: ChatCompletionRequest, catalog: Catalog, credentials: Credentials) -> list[Candidate]:
    """Every endpoint that may serve the request, in the order they are tried."""
    prefs = request.provider or ProviderPreferences()
    resolved = [catalog.resolve(model_id) for model_id in requested_models(request)]
    candidates: list[Candidate] = []
    removed: list[str] = []
    for model in resolved:
        for endpoint in order_endpoints(model, prefs):
            reason = _filtered(endpoint, prefs)
            if reason is None:
                try:
                    host = resolve_host(catalog.host(endpoint.host), credentials)
                except GatewayError as exc:
                    reason = exc.message
            if reason is not None:
                removed.append(f"{model.model.id} via {endpoint.host}: {reason}")
                continue
            params = catalog.supported_parameters(endpoint)
            candidates.append(Candidate(model.requested, model.model, endpoint, host, params))
    if not candidates:
        names = ", ".join(m.requested for m in resolved)
        raise GatewayError(503, f"No provider can serve {names}. " + "; ".join(removed))
    return candidates


def _filtered(endpoint: EndpointSpec, prefs: ProviderPreferences) -> str | None:
    if prefs.only is not None and endpoint.host not in prefs.only:
        return "not in provider.only"
    if prefs.ignore and endpoint.host in prefs.ignore:
        return "in provider.ignore"
    return None
