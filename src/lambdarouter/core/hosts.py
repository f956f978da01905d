"""Hosts as data: who serves models, in which wire format, where, with which credentials.

A new OpenAI-compatible host is one `HostSpec` row here or one `[[hosts]]` table in the user's
`LAMBDAROUTER_CONFIG` file; no code. Slugs follow OpenRouter's provider slugs
(https://openrouter.ai/docs/features/provider-routing) so `provider.order` / `only` / `ignore` name them.
Default base URLs come from each host's own API reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from msgspec import Struct, field

from lambdarouter.core.credentials import Credentials
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.formats import REGISTRY

# A name in the registry of wire formats (`core.formats.REGISTRY`).
WireFormat = str
# How the host's credential is sent; which styles a host of a format may use is the registry's row.
AuthStyle = Literal["bearer", "api-key-header", "x-api-key", "x-goog-api-key", "sigv4", "google-oauth", "none"]


class HostSpec(Struct, frozen=True):
    name: str
    display_name: str
    wire_format: WireFormat
    base_url: str | None
    api_key_env: str | None
    auth: AuthStyle = "bearer"
    base_url_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Whether the host may train on or retain prompts (OpenRouter's `data_collection` filter).
    data_collection: bool = False
    # Path appended to the base URL before the wire format's own path (Azure's v1 API: `/openai/v1`).
    base_path: str = ""
    # OpenAI deprecated `max_tokens` for `max_completion_tokens` (its reasoning models reject the old
    # name), while many compatible hosts only know `max_tokens`: which one this host gets.
    max_tokens_field: str = "max_tokens"
    # Per-host overrides of LAMBDAROUTER_CONNECT_TIMEOUT / LAMBDAROUTER_READ_TIMEOUT (seconds): a local model
    # server may think for minutes between tokens, a hosted API should answer within seconds.
    connect_timeout: float | None = None
    read_timeout: float | None = None
    # Named settings of the host's family (a Vertex AI project and location...): option → the variable that
    # holds it, looked up like the key (the secret, else the environment); an unset one is left out.
    options_env: Mapping[str, str] = field(default_factory=dict)


class ResolvedHost(Struct, frozen=True):
    """A host with its credentials looked up: everything an adapter needs to send a request."""

    spec: HostSpec
    base_url: str
    api_key: str | None
    options: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print the key
        return f"ResolvedHost({self.spec.name!r}, {self.base_url!r})"


def _openai_compatible(name: str, display: str, env: str, url: str) -> HostSpec:
    return HostSpec(name, display, "openai", url, f"{env}_API_KEY", base_url_env=f"{env}_BASE_URL")


BUILTIN_HOSTS: tuple[HostSpec, ...] = (
    HostSpec("openai", "OpenAI", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY",
             base_url_env="OPENAI_BASE_URL", max_tokens_field="max_completion_tokens"),
    # Azure: the resource endpoint plus the v1 API path, which takes the deployment as `model`
    # (https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle).
    HostSpec("azure", "Azure", "openai", None, "AZURE_OPENAI_API_KEY", auth="api-key-header",
             base_url_env="AZURE_OPENAI_ENDPOINT", base_path="/openai/v1",
             max_tokens_field="max_completion_tokens"),
    HostSpec("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY",
             auth="x-api-key", base_url_env="ANTHROPIC_BASE_URL"),
    HostSpec("google-ai-studio", "Google AI Studio", "gemini", "https://generativelanguage.googleapis.com",
             "GEMINI_API_KEY", auth="x-goog-api-key", base_url_env="GEMINI_BASE_URL"),
    HostSpec("amazon-bedrock", "Amazon Bedrock", "bedrock", None, None, auth="sigv4",
             base_url_env="AWS_ENDPOINT_URL_BEDROCK_RUNTIME", options_env={"region": "AWS_REGION"}),
    _openai_compatible("groq", "Groq", "GROQ", "https://api.groq.com/openai/v1"),
    _openai_compatible("together", "Together", "TOGETHER", "https://api.together.xyz/v1"),
    _openai_compatible("mistral", "Mistral", "MISTRAL", "https://api.mistral.ai/v1"),
    _openai_compatible("deepseek", "DeepSeek", "DEEPSEEK", "https://api.deepseek.com/v1"),
    _openai_compatible("xai", "xAI", "XAI", "https://api.x.ai/v1"),
    _openai_compatible("fireworks", "Fireworks", "FIREWORKS", "https://api.fireworks.ai/inference/v1"),
    _openai_compatible("openrouter", "OpenRouter", "OPENROUTER", "https://openrouter.ai/api/v1"),
    # Ollama runs without a key; it counts as configured once OLLAMA_BASE_URL says where it is.
    HostSpec("ollama", "Ollama", "openai", None, None, auth="none", base_url_env="OLLAMA_BASE_URL"),
)


def resolve_host(spec: HostSpec, credentials: Credentials) -> ResolvedHost:
    """Look up the host's base URL and key, or explain (503) which variable is missing."""
    base_url = (credentials.get(spec.base_url_env) if spec.base_url_env else None) or spec.base_url
    options = {name: value for name, variable in spec.options_env.items() if (value := credentials.get(variable))}
    kind = REGISTRY[spec.wire_format].credentials
    if kind == "aws":
        # Signed with the AWS credential chain; the region decides the endpoint.
        return ResolvedHost(spec, base_url or "", None, options)
    if not base_url and kind == "api-key":  # other families know their default endpoint (from the options)
        raise _missing(spec, spec.base_url_env or "base URL")
    api_key = credentials.get(spec.api_key_env) if spec.api_key_env else None
    if spec.auth != "none" and not api_key:
        raise _missing(spec, spec.api_key_env or "API key")
    return ResolvedHost(spec, (base_url or "").rstrip("/") + spec.base_path, api_key, options)


def is_configured(spec: HostSpec, credentials: Credentials) -> bool:
    try:
        resolve_host(spec, credentials)
    except GatewayError:
        return False
    return True


def _missing(spec: HostSpec, variable: str) -> GatewayError:
    return GatewayError(
        503,
        f"Provider {spec.name} is not configured: set {variable}.",
        metadata={"provider_name": spec.name},
    )
