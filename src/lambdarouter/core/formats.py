"""The wire formats this gateway speaks, declared once: hosts, the catalog and the lazy adapter imports read
this registry, so a new provider family is its package under `providers/`, one row here and catalog rows.

A row names the family's package, whose modules are imported only when a request needs them (cold start is
per format used): `<package>.family` holds the `FAMILY` object (URL layout, auth, error mapping) with the
capability adapters (`chat`, `embeddings`, `images`) it serves. The rest is what the core needs without
importing the family: the chat parameters an endpoint takes unless its catalog row lists its own (named as
OpenRouter's `supported_parameters`, from each provider's chat API reference), how a configured host of the
format authenticates, and where its credentials come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from msgspec import Struct

# How a host's credentials are found: an API key (or none, `auth = "none"`), the AWS credential chain, or a
# Google service account key exchanged for OAuth access tokens.
Credentials = Literal["api-key", "aws", "google-service-account"]
Capability = Literal["chat", "embeddings", "images", "completions"]


class WireFormat(Struct, frozen=True):
    name: str
    package: str
    parameters: tuple[str, ...]
    auth: tuple[str, ...]  # the auth styles a configured host may use; the first is the default
    capabilities: frozenset[Capability] = frozenset({"chat"})
    credentials: Credentials = "api-key"


OPENAI_PARAMETERS = ("max_tokens", "temperature", "top_p", "stop", "frequency_penalty", "presence_penalty", "seed",
                     "logit_bias", "logprobs", "top_logprobs", "response_format", "structured_outputs", "tools",
                     "tool_choice")
ANTHROPIC_PARAMETERS = ("max_tokens", "temperature", "top_p", "top_k", "stop", "tools", "tool_choice", "reasoning",
                        "include_reasoning", "response_format", "structured_outputs", "verbosity")
GEMINI_PARAMETERS = ("max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "frequency_penalty",
                     "presence_penalty", "tools", "tool_choice", "response_format", "structured_outputs", "reasoning",
                     "include_reasoning", "logprobs", "top_logprobs")
BEDROCK_PARAMETERS = ("max_tokens", "temperature", "top_p", "stop", "tools", "tool_choice")

_ALL: frozenset[Capability] = frozenset({"chat", "embeddings", "images"})
_WITH_LEGACY: frozenset[Capability] = _ALL | {"completions"}
REGISTRY: Mapping[str, WireFormat] = {row.name: row for row in (
    WireFormat("openai", "lambdarouter.providers.openai", OPENAI_PARAMETERS, ("bearer", "api-key-header", "none"),
               _WITH_LEGACY),
    WireFormat("anthropic", "lambdarouter.providers.anthropic", ANTHROPIC_PARAMETERS, ("x-api-key", "bearer", "none")),
    WireFormat("gemini", "lambdarouter.providers.gemini", GEMINI_PARAMETERS, ("x-goog-api-key", "none"), _ALL),
    WireFormat("bedrock", "lambdarouter.providers.bedrock", BEDROCK_PARAMETERS, ("sigv4",), _ALL, "aws"),
    WireFormat("vertex", "lambdarouter.providers.vertex", GEMINI_PARAMETERS, ("google-oauth",),
               credentials="google-service-account"),
)}


def wire_format(name: str) -> WireFormat | None:
    return REGISTRY.get(name)
