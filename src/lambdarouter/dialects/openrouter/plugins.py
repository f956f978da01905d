"""OpenRouter's gateway-side features: `plugins`, server tools, `transforms` and the `:online` model variant.

OpenRouter runs these itself, around the model call (https://openrouter.ai/docs/guides/features/plugins,
.../server-tools). This gateway runs the ones a self-hosted team needs most and answers a 400 naming any other,
so no feature is accepted and silently not done (docs/request-fields.md lists each with its reason):

- every plugin (`web`, `file-parser`, `response-healing`, `web-fetch`, `moderation`, `context-compression`, the
  routers, `fusion`), every server tool (`openrouter:*`, the `web_search` shorthand) and `:online`: a 400 that
  names the feature and why. Web search and web fetch need a search backend and an agent loop the gateway does
  not have; `file-parser` needs a PDF engine; `response-healing` a JSON repairer it does not have yet; the rest
  are OpenRouter's own services. A plugin sent with `enabled: false` asks for nothing and is accepted.
- `transforms: ["middle-out"]`: accepted. It only acts when a prompt does not fit the context; the gateway does
  not compress, so such a prompt gets the 404 naming the context length instead, never a silent cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.dialects.openrouter.messages import WireModel

PluginId = Literal["auto-router", "auto-beta-router", "moderation", "web", "web-fetch", "file-parser",
                   "response-healing", "context-compression", "pareto-router", "fusion"]
# Why each plugin is not offered, as the 400 says it.
UNOFFERED_PLUGINS: Mapping[str, str] = {
    "web": "web search needs a search backend this gateway does not have",
    "web-fetch": "fetching pages for the model needs an agent loop this gateway does not run",
    "file-parser": "this gateway has no PDF parsing engine; send PDFs to a model that takes files natively",
    "response-healing": "it does not repair JSON answers; validate them client-side",
    "moderation": "this gateway has no moderation service",
    "context-compression": "this gateway does not compress prompts",
    "auto-router": "model selection is OpenRouter's own service",
    "auto-beta-router": "model selection is OpenRouter's own service",
    "pareto-router": "model selection is OpenRouter's own service",
    "fusion": "multi-model fusion is OpenRouter's own service",
}
TRANSFORMS = frozenset({"middle-out"})


class Plugin(WireModel):
    id: PluginId
    enabled: bool | None = None


def not_offered(feature: str, why: str, param: str) -> GatewayError:
    return bad_request(f"{feature} is not offered by this gateway: {why}.", param=param)


def enabled_plugins(plugins: Sequence[Plugin] | None) -> list[str]:
    return [p.id for p in plugins or () if p.enabled is not False]


def check_plugins(plugins: Sequence[Plugin] | None) -> None:
    """400 for a plugin the gateway does not run."""
    for index, plugin_id in enumerate(enabled_plugins(plugins)):
        raise not_offered(f"The {plugin_id} plugin", UNOFFERED_PLUGINS[plugin_id], f"plugins[{index}]")


def check_server_tools(tool_types: Iterable[str], choice_type: str | None) -> None:
    """400 for a server tool: the gateway runs no tools of its own."""
    for index, kind in enumerate(tool_types):
        if kind != "function":
            raise not_offered(f"The server tool {kind}", "it runs no tools of its own (web search and fetch "
                              "need a search backend and an agent loop)", f"tools[{index}]")
    if choice_type is not None and choice_type != "function":
        raise not_offered(f"The server tool {choice_type}", "it runs no tools of its own", "tool_choice")


def check_transforms(transforms: Sequence[str] | None) -> None:
    for index, name in enumerate(transforms or ()):
        if name not in TRANSFORMS:
            raise bad_request(f"Unknown transform {name!r}: OpenRouter's only transform is middle-out.",
                              param=f"transforms[{index}]")


def check_variants(model_ids: Iterable[str]) -> None:
    """`:online` is OpenRouter's web-search variant: not offered (the other variants are the catalog's)."""
    for model_id in model_ids:
        if model_id.endswith(":online"):
            raise not_offered(f"The :online variant ({model_id})", UNOFFERED_PLUGINS["web"], "model")
