"""Bedrock image generation through InvokeModel, the `TEXT_IMAGE` task family: Amazon Nova Canvas and Amazon
Titan Image Generator G1 v2. One body, one answer; what differs between the models is data (`TextImageModel`).

Nova Canvas (https://docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html):
`{"taskType": "TEXT_IMAGE", "textToImageParams": {"text"}, "imageGenerationConfig": {"width", "height",
"quality": "standard" | "premium", "numberOfImages": 1-5}}`; the answer is `{"images": [base64 PNG, ...],
"error": ...}`. The prompt is 1-1,024 characters. Sizes (https://docs.aws.amazon.com/nova/latest/userguide/image-gen-access.html):
each side 320-4,096 pixels and divisible by 16, aspect ratio between 1:4 and 4:1, at most 4,194,304
pixels. `POST /model/{modelId}/invoke`, SigV4-signed like Converse (bedrock_auth).

Titan Image Generator G1 v2 (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-image.html):
the same task, body and answer; the prompt is 1-512 characters and the size one of a documented list
(`TITAN_SIZES`). Lifecycle: the stored copy of Bedrock's "Regional availability by models" page lists it
in us-east-1 and us-west-2 with no Legacy or EOL mark (that page marks Nova Canvas in us-east-1 "Legacy
(EOL: 2026-09-30)"), so it is served.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec import Struct

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.openrouter.images import ImageGenerationRequest
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.bedrock.family import BedrockMember
from lambdarouter.providers.common import malformed
from lambdarouter.providers.images import GeneratedImage, ImageBatch, ImageJob, refuse_count, refuse_options

MAX_IMAGES = 5
MIN_SIDE, MAX_SIDE, SIDE_STEP, MAX_PIXELS = 320, 4096, 16, 4_194_304
# Titan Image Generator's documented width x height pairs (model-parameters-titan-image.html, "Image sizes").
TITAN_SIZES = frozenset({
    "1024x1024", "768x768", "512x512", "768x1152", "384x576", "1152x768", "576x384", "768x1280", "384x640",
    "1280x768", "640x384", "896x1152", "448x576", "1152x896", "576x448", "768x1408", "384x704", "1408x768",
    "704x384", "640x1408", "320x704", "1408x640", "704x320", "1152x640", "1173x640",
})


def refuse_nova_size(width: int, height: int) -> str | None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return f"takes sides of {MIN_SIDE} to {MAX_SIDE} pixels ({width}x{height})"
    if width % SIDE_STEP or height % SIDE_STEP:
        return f"takes sides divisible by {SIDE_STEP} ({width}x{height})"
    if width * height > MAX_PIXELS or max(width, height) > 4 * min(width, height):
        return f"takes at most {MAX_PIXELS} pixels with an aspect ratio within 1:4 to 4:1 ({width}x{height})"
    return None


def refuse_titan_size(width: int, height: int) -> str | None:
    if f"{width}x{height}" in TITAN_SIZES:
        return None
    return f"does not make size {width}x{height} (Titan Image Generator takes e.g. 1024x1024, 1152x768, 768x1152)"


class TextImageModel(Struct, frozen=True):
    name: str
    max_prompt_chars: int
    refuse_size: Callable[[int, int], str | None]


NOVA_CANVAS = TextImageModel("Nova Canvas", 1024, refuse_nova_size)
TITAN_IMAGE = TextImageModel("Titan Image Generator", 512, refuse_titan_size)


def model_of(upstream_id: str) -> TextImageModel:
    return TITAN_IMAGE if "titan-image-generator" in upstream_id else NOVA_CANVAS


class BedrockImages(BedrockMember):
    one_per_call = False

    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        model = model_of(endpoint.upstream_id)
        if len(request.prompt) > model.max_prompt_chars:
            return f"takes prompts of at most {model.max_prompt_chars} characters"
        if (size := request.dimensions()) is not None and (why := model.refuse_size(*size)) is not None:
            return why
        return refuse_count(request, MAX_IMAGES) or refuse_options(
            request, {"quality": frozenset({"standard", "premium"})})

    def output_tokens_held(self, request: ImageGenerationRequest) -> int:
        return 0  # priced per image

    def build_request(self, job: ImageJob) -> HttpRequest:
        request = job.request
        config: dict[str, Any] = {"numberOfImages": request.n}
        if (size := request.dimensions()) is not None:
            config["width"], config["height"] = size
        if request.quality is not None:
            config["quality"] = request.quality
        body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": request.prompt},
                "imageGenerationConfig": config}
        return self.invoke(job.host, job.endpoint.upstream_id, body)

    def parse_response(self, body: bytes, job: ImageJob) -> ImageBatch:
        data = parse_json_body(body)
        provider = job.host.spec.name
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise malformed(f"a {model_of(job.endpoint.upstream_id).name} response without images", provider)
        if data.get("error"):
            raise GatewayError(502, f"{provider}: {data['error']}", metadata={"provider_name": provider})
        return ImageBatch([GeneratedImage(item, "image/png") for item in data["images"] if isinstance(item, str)])


AMAZON_IMAGES = BedrockImages()
