"""Bedrock image generation through InvokeModel: Amazon Nova Canvas (`TEXT_IMAGE`).

Reference: https://docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html —
`{"taskType": "TEXT_IMAGE", "textToImageParams": {"text"}, "imageGenerationConfig": {"width", "height",
"quality": "standard" | "premium", "numberOfImages": 1-5}}`; the answer is `{"images": [base64 PNG, ...],
"error": ...}`. The prompt is 1-1,024 characters. Sizes (https://docs.aws.amazon.com/nova/latest/userguide/image-gen-access.html):
each side 320-4,096 pixels and divisible by 16, aspect ratio between 1:4 and 4:1, at most 4,194,304
pixels. `POST /model/{modelId}/invoke`, SigV4-signed like Converse (bedrock_auth).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdarouter.catalog.spec import EndpointSpec
from lambdarouter.errors import GatewayError
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.bedrock_auth import Signer
from lambdarouter.providers.bedrock_embeddings import invoke_url
from lambdarouter.providers.bedrock_errors import http_error
from lambdarouter.providers.common import malformed
from lambdarouter.providers.images import GeneratedImage, ImageJob, refuse_count, refuse_options
from lambdarouter.schemas.images import ImageGenerationRequest

MAX_IMAGES = 5
MAX_PROMPT_CHARS = 1024
MIN_SIDE, MAX_SIDE, SIDE_STEP, MAX_PIXELS = 320, 4096, 16, 4_194_304


def refuse_size(width: int, height: int) -> str | None:
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return f"takes sides of {MIN_SIDE} to {MAX_SIDE} pixels ({width}x{height})"
    if width % SIDE_STEP or height % SIDE_STEP:
        return f"takes sides divisible by {SIDE_STEP} ({width}x{height})"
    if width * height > MAX_PIXELS or max(width, height) > 4 * min(width, height):
        return f"takes at most {MAX_PIXELS} pixels with an aspect ratio within 1:4 to 4:1 ({width}x{height})"
    return None


class BedrockImages:
    def __init__(self, signer: Signer | None = None) -> None:
        self.signer = signer or Signer()

    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        if len(request.prompt) > MAX_PROMPT_CHARS:
            return f"takes prompts of at most {MAX_PROMPT_CHARS} characters"
        if (size := request.dimensions()) is not None and (why := refuse_size(*size)) is not None:
            return why
        return refuse_count(request, MAX_IMAGES) or refuse_options(
            request, {"quality": frozenset({"standard", "premium"})})

    def build_request(self, job: ImageJob) -> HttpRequest:
        request = job.request
        config: dict[str, Any] = {"numberOfImages": request.n}
        if (size := request.dimensions()) is not None:
            config["width"], config["height"] = size
        if request.quality is not None:
            config["quality"] = request.quality
        body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": request.prompt},
                "imageGenerationConfig": config}
        payload = json.dumps(body, ensure_ascii=False).encode()
        region = self.signer.region()
        url = invoke_url(job.host.base_url, region, job.endpoint.upstream_id)
        headers = {"content-type": "application/json", "accept": "application/json"}
        return HttpRequest("POST", url, self.signer.sign("POST", url, headers, payload, region), payload)

    def parse_response(self, body: bytes, job: ImageJob) -> list[GeneratedImage]:
        data = parse_json_body(body)
        provider = job.host.spec.name
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise malformed("a Nova Canvas response without images", provider)
        if data.get("error"):
            raise GatewayError(502, f"{provider}: {data['error']}", metadata={"provider_name": provider})
        return [GeneratedImage(item, "image/png") for item in data["images"] if isinstance(item, str)]

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        return http_error(status, headers, body, provider)
