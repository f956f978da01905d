"""The seam between the service and the image-generation adapters (one module per wire format).

Pure translation, like the chat and embedding adapters: `refuse` says why an endpoint cannot take a request
(bad size, too many images, an option the model lacks) before anything is sent; `build_request` makes the
one upstream call; `parse_response` returns the images as base64; `map_error` maps an error response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Protocol

from lambdarouter.catalog.spec import EndpointSpec
from lambdarouter.errors import GatewayError
from lambdarouter.hosts import ResolvedHost
from lambdarouter.providers.base import HttpRequest
from lambdarouter.schemas.images import ImageGenerationRequest


@dataclass(frozen=True, slots=True)
class ImageJob:
    request: ImageGenerationRequest
    endpoint: EndpointSpec
    host: ResolvedHost


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    b64: str
    mime: str
    revised_prompt: str | None = None


class ImageAdapter(Protocol):
    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        """Why this endpoint cannot take the request, or None when it can."""
        ...

    def build_request(self, job: ImageJob) -> HttpRequest: ...

    def parse_response(self, body: bytes, job: ImageJob) -> list[GeneratedImage]: ...

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...


_CLASSES: dict[str, tuple[str, str]] = {
    "openai": ("lambdarouter.providers.openai_images", "OpenAIImages"),
    "gemini": ("lambdarouter.providers.gemini_images", "GeminiImages"),
    "bedrock": ("lambdarouter.providers.bedrock_images", "BedrockImages"),
}
_adapters: dict[str, ImageAdapter] = {}


def image_adapter_for(wire_format: str) -> ImageAdapter:
    adapter = _adapters.get(wire_format)
    if adapter is None:
        if wire_format not in _CLASSES:
            raise GatewayError(404, f"The {wire_format} wire format has no image generation API in this gateway.")
        module, name = _CLASSES[wire_format]
        adapter = _adapters[wire_format] = getattr(import_module(module), name)()
    return adapter


def refuse_options(request: ImageGenerationRequest, allowed: Mapping[str, frozenset[str] | None]) -> str | None:
    """The first option the client set that the model lacks (`allowed[name]` None: any value)."""
    for name in ("quality", "style", "background", "output_format"):
        value = getattr(request, name)
        if value is None:
            continue
        if name not in allowed:
            return f"does not support `{name}`"
        choices = allowed[name]
        if choices is not None and value not in choices:
            return f"does not support {name} {value!r} (one of {', '.join(sorted(choices))})"
    return None


def refuse_count(request: ImageGenerationRequest, most: int) -> str | None:
    if request.n <= most:
        return None
    return f"makes at most {most} image{'s' if most > 1 else ''} per request (n={request.n})"
