"""Wire-format adapters, imported only when a request needs them (cold start is per format used)."""

from __future__ import annotations

from importlib import import_module

from lambdarouter.core.errors import not_configured
from lambdarouter.core.hosts import WireFormat
from lambdarouter.providers.base import WireAdapter

_ADAPTER_CLASSES: dict[str, tuple[str, str]] = {
    "openai": ("lambdarouter.providers.openai.chat", "OpenAIAdapter"),
    "anthropic": ("lambdarouter.providers.anthropic.chat", "AnthropicAdapter"),
    "gemini": ("lambdarouter.providers.gemini.chat", "GeminiAdapter"),
    "bedrock": ("lambdarouter.providers.bedrock.chat", "BedrockAdapter"),
}
_adapters: dict[str, WireAdapter] = {}


def adapter_for(wire_format: WireFormat) -> WireAdapter:
    adapter = _adapters.get(wire_format)
    if adapter is None:
        if wire_format not in _ADAPTER_CLASSES:
            raise not_configured(f"The {wire_format} wire format is not available in this gateway.", retryable=True)
        module, name = _ADAPTER_CLASSES[wire_format]
        adapter = _adapters[wire_format] = getattr(import_module(module), name)()
    return adapter
