"""Stability AI's text-to-image models on Bedrock through InvokeModel: Stable Diffusion 3.5 Large, Stable Image
Core and Stable Image Ultra.

References: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-diffusion-3-5-large.html and
model-parameters-diffusion-stable-ultra-text-image-request-response.html (Core takes the same body). The body
is `{"prompt" (at most 10,000 characters), "aspect_ratio", "output_format", "seed", "negative_prompt"}`, plus
`"mode": "text-to-image"` on SD3.5 (its other mode is image-to-image); the answer is `{"seeds": [...],
"finish_reasons": [null | "Filter reason: prompt" | "Filter reason: output image" | "Filter reason: input
image" | "Inference error"], "images": [base64, ...]}` with one image per call, so `n` images take `n` calls.
Stability draws about one megapixel at an aspect ratio, never at a pixel size: an OpenAI `size` is taken when
its ratio is one of `RATIOS`, anything else is a 400. Lifecycle: the stored copy of Bedrock's "Regional
availability by models" page lists "Sd3.5 Large", "Stable Image Core V1:1" and "Stable Image Ultra V1:1" in
us-west-2 with no Legacy mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.openrouter.images import ImageGenerationRequest
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.bedrock.family import BedrockMember
from lambdarouter.providers.common import malformed
from lambdarouter.providers.images import (
    GeneratedImage,
    ImageBatch,
    ImageJob,
    content_filtered,
    reduced_ratio,
    refuse_options,
)

MAX_PROMPT_CHARS = 10_000
RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
FORMATS = frozenset({"png", "jpeg"})
# finish_reasons -> what was refused: the client's input (400) or the drawn image (502, see content_filtered).
FILTERS: Mapping[str, str] = {"Filter reason: prompt": "prompt", "Filter reason: input image": "prompt",
                              "Filter reason: output image": "image"}


def aspect_ratio(request: ImageGenerationRequest) -> str | None:
    size = request.dimensions()
    return None if size is None else reduced_ratio(*size)


def takes_mode(upstream_id: str) -> bool:
    """SD3.5 has two generation modes; the Stable Image models only make an image from text."""
    return upstream_id.startswith("stability.sd3")


class StabilityImages(BedrockMember):
    one_per_call = True

    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        if len(request.prompt) > MAX_PROMPT_CHARS:
            return f"takes prompts of at most {MAX_PROMPT_CHARS} characters"
        if (ratio := aspect_ratio(request)) is not None and ratio not in RATIOS:
            return (f"does not make size {request.size} (Stability takes the aspect ratios {', '.join(RATIOS)}, "
                    f"about one megapixel, e.g. 1024x1024)")
        return refuse_options(request, {"output_format": FORMATS})

    def output_tokens_held(self, request: ImageGenerationRequest) -> int:
        return 0  # priced per image

    def build_request(self, job: ImageJob) -> HttpRequest:
        request = job.request
        body: dict[str, Any] = {"prompt": request.prompt}
        if takes_mode(job.endpoint.upstream_id):
            body["mode"] = "text-to-image"
        if (ratio := aspect_ratio(request)) is not None:
            body["aspect_ratio"] = ratio
        body["output_format"] = request.output_format or "png"
        return self.invoke(job.host, job.endpoint.upstream_id, body)

    def parse_response(self, body: bytes, job: ImageJob) -> ImageBatch:
        data = parse_json_body(body)
        provider = job.host.spec.name
        if not isinstance(data, dict) or not isinstance(data.get("finish_reasons"), list):
            raise malformed("a Stability response without finish_reasons", provider)
        images = data["images"] if isinstance(data.get("images"), list) else []
        reasons = data["finish_reasons"]
        mime = f"image/{job.request.output_format or 'png'}"
        kept = [GeneratedImage(image, mime) for image, reason in zip(images, reasons, strict=False)
                if reason is None and isinstance(image, str) and image]
        if kept:
            return ImageBatch(kept)
        refused = next((str(reason) for reason in reasons if reason is not None), "no image")
        if refused in FILTERS:
            raise content_filtered(provider, FILTERS[refused], refused)
        raise GatewayError(502, f"{provider} drew no image ({refused}).", metadata={"provider_name": provider})


STABILITY = StabilityImages()
