"""The bundled catalog data (`core/catalog/models.toml`): ids resolve, prices and limits are sane, and the
models the gateway promises are there, served by the hosts it promises."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from lambdarouter.core.catalog import Catalog, EndpointSpec, ModelSpec, load_catalog

CATALOG: Catalog = load_catalog()
MODELS: list[ModelSpec] = sorted(CATALOG.models.values(), key=lambda m: m.id)
ENDPOINTS: list[tuple[ModelSpec, EndpointSpec]] = [(m, e) for m in MODELS for e in m.endpoints]


def _endpoint_id(item: tuple[ModelSpec, EndpointSpec]) -> str:
    return f"{item[0].id}@{item[1].host}"


# The entries the catalog was seeded with: they must stay real models, not aliases.
SEED_IDS = ["openai/gpt-4o", "openai/gpt-4o-mini", "google/gemini-2.5-pro"]

# Every id a client may send for the required model families. Each must resolve, either to a model or
# through an alias (models a provider has shut down are kept as aliases to a live replacement).
REQUIRED_IDS = [
    # OpenAI
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "openai/gpt-4.1",
    "openai/gpt-4.1-mini",
    "openai/gpt-4.1-nano",
    "openai/gpt-5",
    "openai/gpt-5-mini",
    "openai/gpt-5-nano",
    "openai/o3",
    "openai/o3-mini",
    "openai/o4-mini",
    # Anthropic
    "anthropic/claude-opus-4.1",
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-sonnet-4",
    "anthropic/claude-haiku-4.5",
    "anthropic/claude-3.5-haiku",
    "anthropic/claude-3-opus",
    # Google
    "google/gemini-2.5-pro",
    "google/gemini-2.5-flash",
    "google/gemini-2.5-flash-lite",
    "google/gemini-2.0-flash",
    "google/gemini-pro",
    # Meta Llama
    "meta-llama/llama-3.1-8b-instruct",
    "meta-llama/llama-3.1-70b-instruct",
    "meta-llama/llama-3.3-70b-instruct",
    "meta-llama/llama-4-maverick",
    "meta-llama/llama-4-scout",
    # Mistral
    "mistralai/mistral-large",
    "mistralai/mistral-medium",
    "mistralai/mistral-small",
    "mistralai/codestral",
    "mistralai/ministral-8b",
    # DeepSeek
    "deepseek/deepseek-chat",
    "deepseek/deepseek-r1",
    # xAI
    "x-ai/grok-4",
]

# Of those, the ones that must be real catalog entries (their provider still serves them).
REQUIRED_MODELS = [
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "openai/gpt-4.1",
    "openai/gpt-4.1-mini",
    "openai/gpt-5",
    "openai/gpt-5-mini",
    "openai/gpt-5-nano",
    "openai/o3",
    "anthropic/claude-opus-4.1",
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-sonnet-4",
    "anthropic/claude-haiku-4.5",
    "google/gemini-2.5-pro",
    "google/gemini-2.5-flash",
    "google/gemini-2.5-flash-lite",
    "meta-llama/llama-3.1-8b-instruct",
    "meta-llama/llama-3.1-70b-instruct",
    "meta-llama/llama-3.3-70b-instruct",
    "meta-llama/llama-4-maverick",
    "meta-llama/llama-4-scout",
    "mistralai/mistral-large",
    "mistralai/mistral-medium",
    "mistralai/mistral-small",
    "mistralai/codestral",
    "mistralai/ministral-8b",
]

# Hosts that may serve a model for free (a local server); every other host must charge for tokens.
FREE_HOSTS = {"ollama"}

CLAUDE_HOSTS = frozenset({"anthropic", "amazon-bedrock"})
# Claude models that are NOT on both hosts, each for a documented reason (see the catalog comments):
# retired on the Claude API but still on Bedrock, or served on Bedrock only outside the Converse API.
CLAUDE_SINGLE_HOST = {
    "anthropic/claude-opus-4.1": frozenset({"amazon-bedrock"}),
    "anthropic/claude-sonnet-4": frozenset({"amazon-bedrock"}),
    "anthropic/claude-opus-5.5": frozenset({"anthropic"}),
    "anthropic/claude-sonnet-5.5": frozenset({"anthropic"}),
}

TOKENIZERS = {"GPT", "Claude", "Gemini", "Llama3", "Llama4", "Mistral", "DeepSeek", "Grok", "Titan", "Cohere", "Nova",
              "Other"}  # OpenRouter's value for a model without a named tokenizer (Stability's image models)
SAMPLING_PARAMETERS = {"temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty"}


def _hosts(model_id: str) -> frozenset[str]:
    return frozenset(e.host for e in CATALOG.models[model_id].endpoints)


def _direct_hosts(model_id: str) -> frozenset[str]:
    """The hosts of a Claude model besides Google Vertex, which serves some of them too (see the catalog)."""
    return _hosts(model_id) - {"google-vertex"}


def test_catalog_is_not_trivially_small() -> None:
    assert len(CATALOG.models) >= len(REQUIRED_MODELS)
    assert {m.id.split("/")[0] for m in MODELS} >= {
        "openai",
        "anthropic",
        "google",
        "meta-llama",
        "mistralai",
        "deepseek",
        "x-ai",
    }


@pytest.mark.parametrize("model_id", SEED_IDS)
def test_seed_ids_resolve_to_themselves(model_id: str) -> None:
    assert model_id not in CATALOG.aliases
    assert CATALOG.resolve(model_id).model.id == model_id


def test_gemini_pro_alias_resolves_to_gemini_2_5_pro() -> None:
    resolved = CATALOG.resolve("google/gemini-pro")
    assert resolved.model.id == "google/gemini-2.5-pro"
    assert resolved.requested == "google/gemini-pro"


def test_claude_3_opus_resolves_to_the_newest_opus() -> None:
    opus = [m for m in MODELS if m.id.startswith("anthropic/claude-opus-")]
    newest = max(opus, key=lambda m: m.created)
    assert CATALOG.resolve("anthropic/claude-3-opus").model.id == newest.id


def test_alias_keeps_variant() -> None:
    resolved = CATALOG.resolve("anthropic/claude-3-opus:floor")
    assert resolved.variant == "floor"
    assert resolved.model.id.startswith("anthropic/claude-opus-")


@pytest.mark.parametrize("alias", sorted(CATALOG.aliases))
def test_alias_points_at_a_model_and_hides_none(alias: str) -> None:
    assert CATALOG.aliases[alias] in CATALOG.models
    # An alias key that is also a model id would make that model unreachable.
    assert alias not in CATALOG.models


@pytest.mark.parametrize("model_id", REQUIRED_IDS)
def test_required_id_resolves(model_id: str) -> None:
    model = CATALOG.resolve(model_id).model
    assert model.id.split("/")[0] == model_id.split("/")[0], "an alias must stay with the same author"


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_required_model_is_a_catalog_entry(model_id: str) -> None:
    assert model_id in CATALOG.models


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.id)
def test_model_metadata(model: ModelSpec) -> None:
    assert len(model.endpoints) >= 1
    assert ": " in model.name, "names follow OpenRouter's 'Author: Model' style"
    assert model.description.strip()
    assert model.tokenizer in TOKENIZERS
    assert "text" in model.input_modalities
    assert set(model.input_modalities) <= {"text", "image", "file", "audio"}
    assert 1_577_836_800 <= model.created <= time.time(), "release date between 2020 and now"
    hosts_and_ids = [(e.host, e.upstream_id) for e in model.endpoints]
    assert len(hosts_and_ids) == len(set(hosts_and_ids)), "duplicate endpoint"


@pytest.mark.parametrize(("model", "endpoint"), ENDPOINTS, ids=[_endpoint_id(x) for x in ENDPOINTS])
def test_endpoint_host_exists(model: ModelSpec, endpoint: EndpointSpec) -> None:
    assert endpoint.host in CATALOG.hosts


@pytest.mark.parametrize(("model", "endpoint"), ENDPOINTS, ids=[_endpoint_id(x) for x in ENDPOINTS])
def test_endpoint_prices(model: ModelSpec, endpoint: EndpointSpec) -> None:
    prices = [endpoint.prompt, endpoint.completion, endpoint.request, endpoint.image]
    prices += [p for p in (endpoint.cache_read, endpoint.cache_write, endpoint.reasoning) if p is not None]
    assert all(p >= 0 for p in prices)
    if endpoint.host not in FREE_HOSTS and "image" in model.output_modalities and "text" not in model.output_modalities:
        assert endpoint.image > 0 and endpoint.prompt == endpoint.completion == 0  # image models: per image only
    elif endpoint.host not in FREE_HOSTS:
        assert endpoint.prompt > 0
        # Embedding models bill their input only: no output tokens exist to price.
        assert endpoint.completion > 0 or "embeddings" in model.output_modalities
    # Per-token prices: anything at or above $1 per token is a unit mistake (per-million written as-is).
    assert endpoint.prompt < Decimal("0.001")
    assert endpoint.completion < Decimal("0.001")
    if endpoint.cache_read is not None:
        assert endpoint.cache_read <= endpoint.prompt
    if endpoint.cache_write is not None:
        assert endpoint.cache_write >= endpoint.prompt, "writing the cache never costs less than input"


@pytest.mark.parametrize(("model", "endpoint"), ENDPOINTS, ids=[_endpoint_id(x) for x in ENDPOINTS])
def test_endpoint_limits(model: ModelSpec, endpoint: EndpointSpec) -> None:
    # Chat models hold at least 4K tokens; embedding models take one input of their documented size.
    # Image models: their prompt limit (Imagen takes 480 tokens).
    chat = "text" in model.output_modalities
    assert endpoint.context_length >= (4096 if chat else 480 if "image" in model.output_modalities else 512)
    if endpoint.max_output_tokens is not None:
        assert endpoint.max_output_tokens <= endpoint.context_length


@pytest.mark.parametrize("model", [m for m in MODELS if m.id.startswith("anthropic/")], ids=lambda m: m.id)
def test_claude_is_served_by_anthropic_and_bedrock(model: ModelSpec) -> None:
    expected = CLAUDE_SINGLE_HOST.get(model.id, CLAUDE_HOSTS)
    assert _direct_hosts(model.id) == expected
    for endpoint in model.endpoints:
        if endpoint.host == "anthropic":
            assert endpoint.upstream_id.startswith("claude-")
        elif endpoint.host == "google-vertex":
            assert endpoint.upstream_id.startswith("claude-") and "@" in endpoint.upstream_id, "Vertex's id@version"
        else:
            assert endpoint.upstream_id.startswith("us.anthropic.claude-"), "a US cross-Region profile"
        assert endpoint.cache_read is not None
        assert endpoint.cache_write is not None


def test_claude_models_on_both_hosts_include_the_required_ones() -> None:
    on_both = {m.id for m in MODELS if _direct_hosts(m.id) == CLAUDE_HOSTS}
    assert {"anthropic/claude-sonnet-4.5", "anthropic/claude-haiku-4.5"} <= on_both


@pytest.mark.parametrize("model", [m for m in MODELS if m.id.startswith("meta-llama/")], ids=lambda m: m.id)
def test_llama_is_served_by_together_and_bedrock(model: ModelSpec) -> None:
    assert _hosts(model.id) >= {"together", "amazon-bedrock"}
    bedrock = next(e for e in model.endpoints if e.host == "amazon-bedrock")
    assert bedrock.upstream_id.startswith("us.meta.llama")


def test_an_open_model_is_served_by_groq_together_and_bedrock() -> None:
    served = [m.id for m in MODELS if _hosts(m.id) >= {"groq", "together", "amazon-bedrock"}]
    assert "openai/gpt-oss-120b" in served


@pytest.mark.parametrize(
    "model_id",
    ["openai/o3", "openai/gpt-5", "openai/gpt-5-mini", "openai/gpt-5-nano", "openai/gpt-6-luna"],
)
def test_openai_reasoning_models_list_reasoning_and_no_sampling(model_id: str) -> None:
    for endpoint in CATALOG.models[model_id].endpoints:
        assert endpoint.supported_parameters is not None, "reasoning models must not take the default list"
        accepted = CATALOG.supported_parameters(endpoint)
        assert {"reasoning", "include_reasoning", "max_tokens"} <= accepted
        assert not accepted & SAMPLING_PARAMETERS


def test_default_parameters_apply_to_chat_models_without_a_list() -> None:
    endpoint = CATALOG.models["openai/gpt-4o"].endpoints[0]
    assert endpoint.supported_parameters is None
    assert "temperature" in CATALOG.supported_parameters(endpoint)
