"""Model → ordered candidate endpoints, with OpenRouter's provider preferences.

Reference: https://openrouter.ai/docs/features/provider-routing (filters, `order`, `sort`, the default
price-weighted load balancing, `allow_fallbacks`, `:floor` / `:nitro`) and
https://openrouter.ai/docs/features/model-routing (the `models` fallback list). Pure: the health view and
the random source are passed in, so every ordering is testable.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from msgspec import Struct

from lambdarouter.core.budget import PromptSize
from lambdarouter.core.catalog import Catalog, ResolvedModel
from lambdarouter.core.catalog.spec import EndpointSpec, ModelSpec
from lambdarouter.core.conversation import (
    AudioPart,
    ChatRequest,
    FilePart,
    GrammarFormat,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Part,
    ToolResultPart,
    VideoPart,
)
from lambdarouter.core.credentials import Credentials
from lambdarouter.core.errors import GatewayError, bad_request, not_configured
from lambdarouter.core.health import HealthBoard, endpoint_key
from lambdarouter.core.hosts import HostSpec, ResolvedHost, resolve_host
from lambdarouter.core.parameters import asked
from lambdarouter.dialects.openrouter.preferences import ProviderPreferences

MILLION = Decimal(1_000_000)
# One generator for the process: seeding one per request read 2.5 kB from os.urandom every time.
_DRAW = random.Random()  # noqa: S311 - load balancing, not crypto


class Candidate(Struct, frozen=True):
    requested: str  # the model id this candidate serves (one entry of `model` + `models`)
    model: ModelSpec
    endpoint: EndpointSpec
    host: ResolvedHost
    supported_parameters: frozenset[str]

    @property
    def key(self) -> str:
        return endpoint_key(self.endpoint.host, self.endpoint.upstream_id)

    @property
    def provider_name(self) -> str:
        """What an answer's `provider` field says: the host's display name, as OpenRouter's answers name
        providers ("OpenAI", "Amazon Bedrock"); the ledger keeps the slug."""
        return self.host.spec.display_name


def requested_models(model: str | None, models: Sequence[str] | None) -> list[str]:
    """`model` then the `models` fallback list, without repeats."""
    ids = ([model] if model else []) + list(models or [])
    if not ids:
        raise bad_request("Request must name a model (`model` or `models`).")
    return list(dict.fromkeys(ids))


# (part, the input modality a model must have to take it: OpenRouter's `input_modalities` names, the part's
# name in OpenAI's wire format, for messages).
PART_MODALITIES: tuple[tuple[type, str, str], ...] = (
    (ImagePart, "image", "image_url"), (AudioPart, "audio", "input_audio"), (VideoPart, "video", "video_url"),
    (FilePart, "file", "file"))


def input_parts(request: ChatRequest) -> dict[str, str]:
    """Input modality beyond text → where the first part of it is (`messages[1].content[0]`; a tool result's
    content counts as its message's)."""
    found: dict[str, str] = {}
    for i, message in enumerate(request.messages):
        content: list[Part] = [p for part in message.parts
                               for p in (part.content if isinstance(part, ToolResultPart) else (part,))]
        for j, part in enumerate(content):
            for kind, modality, name in PART_MODALITIES:
                if isinstance(part, kind):
                    found.setdefault(modality, f"messages[{i}].content[{j}] ({name})")
    return found


def format_kind(request: ChatRequest) -> str | None:
    """"json_schema" | "json_object" | "grammar" | "python", or None."""
    fmt = request.output
    return fmt.kind if isinstance(fmt, GrammarFormat) else _FORMAT_KINDS.get(type(fmt))


_FORMAT_KINDS: dict[type, str] = {JsonSchemaFormat: "json_schema", JsonObjectFormat: "json_object"}


class Needs(Struct, frozen=True):
    """What the request asks of an endpoint, measured once."""

    tools: bool
    inputs: frozenset[str]  # input modalities beyond text: image, audio, video, file
    response_format: str | None  # "json_object" | "json_schema" | "grammar" | "python"
    tokens: int  # prompt estimate + requested output
    parameters: frozenset[str]  # OpenRouter parameter names of the fields the client set
    outputs: tuple[str, ...] = ("text",)  # output modalities the model must have: chat's `modalities` or text
    api: str | None = "chat"  # the text API the endpoint must serve (None: an operation beside chat, it chooses)

    @classmethod
    def of(cls, request: ChatRequest, size: PromptSize) -> Needs:
        output = request.max_output_tokens or 0
        return cls(bool(request.tools), frozenset(input_parts(request)), format_kind(request),
                   size.charged_tokens + output, asked(request), chat_outputs(request))


class Subject(Struct, frozen=True):
    """One endpoint under consideration, with what the filters read about it."""

    endpoint: EndpointSpec
    model: ModelSpec
    host: HostSpec
    parameters: frozenset[str]


Filter = Callable[[Subject, Needs, ProviderPreferences], str | None]


# The reason `_api` gives: a model served only by the legacy /completions API asked for on /chat/completions.
COMPLETIONS_ONLY = "is a legacy completion model: send it a `prompt` on POST /completions"


def _api(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    return COMPLETIONS_ONLY if n.api is not None and n.api not in s.endpoint.apis else None


def names(host: HostSpec) -> frozenset[str]:
    """What `provider.only` / `order` / `ignore` may call a host: its slug or its display name (OpenRouter's
    `ProviderName` values, e.g. "OpenAI", "Amazon Bedrock"), in any case."""
    return frozenset({host.name.casefold(), host.display_name.casefold()})


def named(host: HostSpec, listed: Sequence[str] | None) -> bool:
    return bool(listed) and not names(host).isdisjoint(name.casefold() for name in listed or ())


def _only(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    if prefs.only is not None and not named(s.host, prefs.only):
        return "not in provider.only"
    return "in provider.ignore" if named(s.host, prefs.ignore) else None


def chat_outputs(request: ChatRequest) -> tuple[str, ...]:
    """The output modalities a chat request asks for: `modalities` (OpenRouter's image output), else text."""
    return tuple(dict.fromkeys(request.modalities)) if request.modalities else ("text",)


def lacks_output(model: ModelSpec, outputs: Sequence[str]) -> str | None:
    """Why `model` cannot produce `outputs` (None when it can): an embeddings or image model cannot answer a
    chat request (say which route serves it), a text model cannot draw."""
    missing = [m for m in outputs if m not in model.output_modalities]
    if not missing:
        return None
    routes = {"embeddings": "/embeddings", "image": "/images/generations"}
    if "text" in missing:
        serves = ", ".join(routes.get(m, m) for m in model.output_modalities)
        return f"does not output text (it is served by {serves})"
    return f"does not output {', '.join(missing)} (its output modalities: {', '.join(model.output_modalities)})"


def _output(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    if (why := lacks_output(s.model, n.outputs)) is not None:
        return why
    # An image-only model asked through chat (`modalities: ["image"]`): only where the endpoint draws through
    # a chat API, which its per-token image-output price says (OpenRouter's `image_output`, e.g. an
    # OpenRouter-hosted image model); the image APIs' models are priced per image and served elsewhere.
    if n.api == "chat" and "text" not in s.model.output_modalities and s.endpoint.image_output is None:
        return "generates images through /images/generations only, not chat"
    return None


def _tools(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    return "does not support tools" if n.tools and "tools" not in s.parameters else None


def _inputs(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    missing = sorted(n.inputs - set(s.model.input_modalities))
    return f"does not take {', '.join(missing)} input" if missing else None


def _format(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    if n.response_format == "json_schema" and "structured_outputs" not in s.parameters:
        return "has no structured outputs (json_schema)"
    if n.response_format == "json_object" and "response_format" not in s.parameters:
        return "has no JSON mode"
    if n.response_format in ("grammar", "python") and s.host.wire_format != "openai":
        # Only OpenAI-format hosts (vLLM-style servers) may take a grammar; the other wire formats have none.
        return f"has no {n.response_format} response format"
    return None


def _context(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    if n.tokens > s.endpoint.context_length:
        return f"context length {s.endpoint.context_length} is below the prompt estimate plus max_tokens ({n.tokens})"
    return None


def _price(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    limit, e = prefs.max_price, s.endpoint
    if limit is None:
        return None
    # max_price is USD per million tokens for prompt and completion, per request / image as is.
    over = [name for name, price, cap in (
        ("prompt", e.prompt * MILLION, limit.prompt), ("completion", e.completion * MILLION, limit.completion),
        ("request", e.request, limit.request), ("image", e.image, limit.image))
        if cap is not None and price > Decimal(str(cap))]
    return f"{', '.join(over)} price above provider.max_price" if over else None


def _data(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    if prefs.data_collection == "deny" and s.host.data_collection:
        return "may retain or train on prompts (data_collection: deny)"
    # The catalog knows which hosts may retain prompts, not who promises zero retention: zdr keeps the others.
    if prefs.zdr and s.host.data_collection:
        return "may retain prompts (zdr)"
    quantizations = prefs.quantizations
    if quantizations and (s.endpoint.quantization or "unknown") not in quantizations:
        return f"quantization {s.endpoint.quantization or 'unknown'} is not in provider.quantizations"
    return None


def _parameters(s: Subject, n: Needs, prefs: ProviderPreferences) -> str | None:
    if not prefs.require_parameters:
        return None
    missing = sorted(n.parameters - s.parameters)
    return f"does not support {', '.join(missing)} (require_parameters)" if missing else None


# Applied in this order; the first that refuses an endpoint names the reason.
FILTERS: tuple[Filter, ...] = (_output, _api, _only, _tools, _inputs, _format, _context, _price, _data, _parameters)


def order_endpoints(resolved: ResolvedModel, prefs: ProviderPreferences, health: HealthBoard,
                    rng: random.Random, hosts: Mapping[str, HostSpec] | None = None) -> list[EndpointSpec]:
    endpoints = list(resolved.model.endpoints)
    sort = sort_of(prefs, resolved)
    if sort is not None:
        endpoints = _sorted(endpoints, sort, health)
    elif not prefs.order:
        endpoints = _balanced(endpoints, health, rng)
    if prefs.order:
        rank = {name.casefold(): i for i, name in reversed(list(enumerate(prefs.order)))}

        def position(endpoint: EndpointSpec) -> int | None:
            host = hosts.get(endpoint.host) if hosts else None
            hits = [rank[n] for n in (names(host) if host else {endpoint.host.casefold()}) if n in rank]
            return min(hits) if hits else None

        placed = [(position(e), e) for e in endpoints]
        preferred = [e for p, e in sorted(((p, e) for p, e in placed if p is not None), key=lambda x: x[0])]
        endpoints = preferred + ([e for p, e in placed if p is None] if prefs.fallbacks else [])
    elif not prefs.fallbacks:
        endpoints = endpoints[:1]
    return endpoints


def sort_of(prefs: ProviderPreferences, resolved: ResolvedModel) -> str | None:
    """`provider.sort` (a name or `{by}`), else the variant's: `:floor` is price, `:nitro` throughput."""
    return prefs.sort_by or {"floor": "price", "nitro": "throughput"}.get(resolved.variant or "")


def _price_of(endpoint: EndpointSpec) -> Decimal:
    return endpoint.prompt + endpoint.completion


def _sorted(endpoints: list[EndpointSpec], sort: str, health: HealthBoard) -> list[EndpointSpec]:
    """By price, or by measured latency / throughput (unmeasured endpoints after measured ones, by price)."""
    def stat(e: EndpointSpec) -> tuple[bool, float, Decimal]:
        s = health.get(endpoint_key(e.host, e.upstream_id))
        if sort == "latency" and s is not None and s.first_token_ms is not None:
            return False, s.first_token_ms, _price_of(e)
        if sort == "throughput" and s is not None and s.tokens_per_second is not None:
            return False, -s.tokens_per_second, _price_of(e)
        if sort == "exacto":
            # OpenRouter's exacto ranks endpoints by tool-calling accuracy, which this gateway does not measure:
            # endpoints that did not fail recently first, by price.
            return health.failed_recently(endpoint_key(e.host, e.upstream_id)), 0.0, _price_of(e)
        return sort != "price", 0.0, _price_of(e)
    return sorted(endpoints, key=stat)


def _balanced(endpoints: list[EndpointSpec], health: HealthBoard, rng: random.Random) -> list[EndpointSpec]:
    """OpenRouter's default: recently failed endpoints last; among the rest the first is drawn with weight
    1/price² (free endpoints weigh as the cheapest paid one), the others follow by price as fallbacks."""
    healthy = [e for e in endpoints if not health.failed_recently(endpoint_key(e.host, e.upstream_id))]
    failed = [e for e in endpoints if e not in healthy]
    if len(healthy) > 1:
        paid = [_price_of(e) for e in healthy if _price_of(e) > 0]
        floor = min(paid) if paid else Decimal(1)
        weights = [1 / float(max(_price_of(e), floor)) ** 2 for e in healthy]
        first = rng.choices(healthy, weights=weights)[0]
        healthy = [first, *sorted((e for e in healthy if e is not first), key=_price_of)]
    return healthy + failed


def plan(request: ChatRequest, model_ids: Sequence[str], prefs: ProviderPreferences | None, size: PromptSize,
         catalog: Catalog, credentials: Credentials, health: HealthBoard | None = None,
         rng: random.Random | None = None) -> list[Candidate]:
    """Every endpoint that may serve the conversation for one of `model_ids`, in the order they are tried.

    `modalities` that no requested model can produce is the client's mistake, a 400 (not the 404 of "no
    endpoint left"): output modalities belong to the model, whichever host serves it.
    """
    needs = Needs.of(request, size)
    resolved = [catalog.resolve(model_id) for model_id in model_ids]  # once: the checks below all read them
    models = [r.model for r in resolved]
    _refuse_unanswerable(model_ids, models, needs)
    _refuse_untakeable(models, input_parts(request))
    return _candidates(resolved, prefs or ProviderPreferences(), needs, catalog, credentials, health, rng)


def _refuse_unanswerable(model_ids: Sequence[str], models: Sequence[ModelSpec], needs: Needs) -> None:
    """400 when no requested model could answer this chat request on any host: the client's mistake, decided
    by the models themselves (their output modalities, the text APIs their endpoints serve), not the 404 of
    "no endpoint left"."""
    if needs.outputs != ("text",):
        reasons = [(model.id, lacks_output(model, needs.outputs)) for model in models]
        if all(why is not None for _, why in reasons):
            raise bad_request(f"modalities {list(needs.outputs)} cannot be served: "
                              + "; ".join(f"{model_id} {why}" for model_id, why in reasons) + ".")
    if all("chat" not in endpoint.apis for model in models for endpoint in model.endpoints):
        raise bad_request(f"{', '.join(model_ids)} cannot answer /chat/completions: {COMPLETIONS_ONLY}.")


def _refuse_untakeable(models: Sequence[ModelSpec], parts: Mapping[str, str]) -> None:
    """400 when a part of the conversation is content no requested model takes (audio for a text model, a
    video...): the client's mistake, named with the part and the models, not the 404 of "no endpoint left"."""
    for modality, where in parts.items():
        if all(modality not in model.input_modalities for model in models):
            takes = "; ".join(f"{m.id} takes {', '.join(m.input_modalities)}" for m in models)
            raise bad_request(f"{where} is {modality} input, which no requested model takes ({takes}).",
                              param=where.split(" ")[0])


def _candidates(resolved: Sequence[ResolvedModel], prefs: ProviderPreferences, needs: Needs, catalog: Catalog,
                credentials: Credentials, health: HealthBoard | None, rng: random.Random | None) -> list[Candidate]:
    board, draw = health or HealthBoard(), rng or _DRAW
    candidates: list[Candidate] = []
    removed: list[tuple[str, bool]] = []  # (reason, was it only missing credentials)
    for model in resolved:
        for endpoint in order_endpoints(model, prefs, board, draw, catalog.hosts):
            candidate, reason = _admit(catalog, credentials, model, endpoint, needs, prefs)
            if candidate is not None:
                candidates.append(candidate)
            else:
                removed.append(reason)
    if not candidates:
        raise _nothing_left([m.requested for m in resolved], removed)
    if prefs.sorts_across_models and len(resolved) > 1:
        # `sort: {by, partition: "none"}`: every model's endpoints sorted together, fallback models included.
        by_endpoint = {id(c.endpoint): c for c in candidates}
        order = _sorted([c.endpoint for c in candidates], prefs.sort_by or "price", board)
        candidates = [by_endpoint[id(e)] for e in order]
    return candidates


def _admit(catalog: Catalog, credentials: Credentials, model: ResolvedModel, endpoint: EndpointSpec, needs: Needs,
           prefs: ProviderPreferences) -> tuple[Candidate | None, tuple[str, bool]]:
    subject = Subject(endpoint, model.model, catalog.host(endpoint.host), catalog.supported_parameters(endpoint))
    where = f"{model.model.id} via {endpoint.host}"
    for check in FILTERS:
        if (why := check(subject, needs, prefs)) is not None:
            return None, (f"{where} {why}", False)
    try:
        host = resolve_host(subject.host, credentials)
    except GatewayError as exc:
        return None, (f"{where}: {exc.message}", True)
    return Candidate(model.requested, model.model, endpoint, host, subject.parameters), ("", False)


def _nothing_left(requested: Sequence[str], removed: Sequence[tuple[str, bool]]) -> GatewayError:
    """503 when only credentials are missing (an operator's fix); 404 when no endpoint can serve it."""
    names = ", ".join(requested)
    reasons = "; ".join(reason for reason, _ in removed) or "no endpoints"
    if removed and all(credentials_only for _, credentials_only in removed):
        return not_configured(f"No provider is configured for {names}. {reasons}")
    return GatewayError(404, f"No endpoint can serve this request for {names}: {reasons}")


def plan_operation(model_ids: Sequence[str], prefs: ProviderPreferences | None, output: str, tokens: int,
                   catalog: Catalog, credentials: Credentials, health: HealthBoard | None = None,
                   rng: random.Random | None = None) -> list[Candidate]:
    """`plan` for the operations beside chat (embeddings, images, ...): only endpoints of models whose
    `output_modalities` include `output` (the `_output` filter), under the same preferences and filters."""
    if not model_ids:
        raise bad_request("Request must name a model (`model` or `models`).")
    needs = Needs(False, frozenset(), None, tokens, frozenset(), (output,), api=None)
    resolved = [catalog.resolve(model_id) for model_id in dict.fromkeys(model_ids)]
    return _candidates(resolved, prefs or ProviderPreferences(), needs, catalog, credentials, health, rng)
