"""The seam between the service and the image-generation adapters (one module per wire format).

Pure translation, like the chat and embedding adapters: `refuse` says why an endpoint cannot take a request
(bad size, too many images, an option the model lacks) before anything is sent; `build_request` makes one
upstream call; `parse_response` returns its images as base64 (and the tokens it reports, for models priced
per token); `map_error` maps an error response. Models that draw one image per call (`one_per_call`:
Gemini's image models, Stability) get `n` identical calls.

Which adapter serves an endpoint is its family's choice (`ProviderFamily.images`): a family can host image
APIs of different shapes, e.g. Imagen and Gemini's image models on Google.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import gcd
from typing import Protocol

from msgspec import Struct, field

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import MalformedEvent, TokenUsage
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.dialects.openrouter.images import ImageGenerationRequest
from lambdarouter.providers.base import HttpRequest


class ImageJob(Struct, frozen=True):
    request: ImageGenerationRequest
    endpoint: EndpointSpec
    host: ResolvedHost


class GeneratedImage(Struct, frozen=True):
    b64: str
    mime: str
    revised_prompt: str | None = None

    def __post_init__(self) -> None:  # checked as the stream events are (providers/events.py)
        if not (isinstance(self.b64, str) and isinstance(self.mime, str)
                and isinstance(self.revised_prompt, str | None)):
            raise MalformedEvent("an image is not base64 text with a media type and an optional revised prompt")


class ImageBatch(Struct, frozen=True):
    """What one upstream call returned: its images and, where the provider reports one, its token usage."""

    images: list[GeneratedImage]
    usage: TokenUsage = field(default_factory=TokenUsage)


class ImageAdapter(Protocol):
    one_per_call: bool  # True: the model draws one image per call, so `n` images take `n` calls

    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        """Why this endpoint cannot take the request, or None when it can."""
        ...

    def output_tokens_held(self, request: ImageGenerationRequest) -> int:
        """Output tokens the budget holds per image: 0 for models priced per image."""
        ...

    def build_request(self, job: ImageJob) -> HttpRequest: ...

    def parse_response(self, body: bytes, job: ImageJob) -> ImageBatch: ...

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...


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


def reduced_ratio(width: int, height: int) -> str:
    """A size's aspect ratio in lowest terms ("1408x768" -> "11:6", "1024x1536" -> "2:3")."""
    divisor = gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def content_filtered(provider: str, what: str, native: str) -> GatewayError:
    """A provider's safety filter refused the prompt (400: the client must change it, as OpenAI's Image API
    answers `content_policy_violation` with a 400) or withheld the drawn image (502: nothing came back,
    nothing is charged; the same prompt may pass another time or elsewhere)."""
    if what == "prompt":
        return GatewayError(400, f"{provider} refused the prompt: its content filter blocked it ({native}).",
                            metadata={"provider_name": provider, "reason": native})
    return GatewayError(502, f"{provider} withheld the image: its content filter blocked the output ({native}).",
                        metadata={"provider_name": provider, "reason": native})
