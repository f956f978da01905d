"""Gemini API Imagen: `models.predict`.

Reference: https://ai.google.dev/gemini-api/docs/imagen — `POST /v1beta/models/{model}:predict` with
`{"instances": [{"prompt": ...}], "parameters": {"sampleCount": 1-4, "aspectRatio": ...}}`; the answer is
`{"predictions": [{"bytesBase64Encoded": ..., "mimeType": "image/png"}]}`. Imagen takes an aspect ratio,
not pixels: "1:1", "3:4", "4:3", "9:16", "16:9", whose 1K outputs are 1024x1024, 896x1280, 1280x896,
768x1408 and 1408x768. An OpenAI `size` is accepted when it is one of those or has exactly one of those
ratios; anything else is a 400 rather than a silently different picture. Images the safety filter drops
are left out of `predictions`, so fewer than `n` may come back (and only those are charged).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.dialects.openrouter.images import ImageGenerationRequest
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.family import Member
from lambdarouter.providers.gemini.family import FAMILY, GeminiHost
from lambdarouter.providers.images import (
    GeneratedImage,
    ImageBatch,
    ImageJob,
    reduced_ratio,
    refuse_count,
    refuse_options,
)

MAX_SAMPLES = 4
RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
DOCUMENTED_SIZES = {"1024x1024": "1:1", "896x1280": "3:4", "1280x896": "4:3", "768x1408": "9:16",
                    "1408x768": "16:9"}


def aspect_ratio(request: ImageGenerationRequest) -> str | None:
    """The Imagen aspect ratio of the requested size; None when there is none (or it has no such ratio)."""
    if request.size is None or request.size == "auto":
        return None
    if request.size in DOCUMENTED_SIZES:
        return DOCUMENTED_SIZES[request.size]
    ratio = reduced_ratio(*(request.dimensions() or (1, 1)))
    return ratio if ratio in RATIOS else None


class GeminiImageAdapter(Member):
    """What Gemini's two image APIs share: the host's family (the Gemini API's, or Vertex AI's)."""

    def __init__(self, family: GeminiHost = FAMILY) -> None:
        self.family: GeminiHost = family

    def model_call(self, job: ImageJob, method: str, body: Mapping[str, Any]) -> HttpRequest:
        payload = json.dumps(body, ensure_ascii=False).encode()
        return self.family.model_request(job.host, job.endpoint.upstream_id, method, payload)


class GeminiImages(GeminiImageAdapter):
    one_per_call = False

    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        if request.size not in (None, "auto") and aspect_ratio(request) is None:
            return (f"does not make size {request.size} (Imagen takes the aspect ratios {', '.join(RATIOS)}, "
                    f"e.g. {', '.join(DOCUMENTED_SIZES)})")
        return refuse_count(request, MAX_SAMPLES) or refuse_options(request, {})

    def output_tokens_held(self, request: ImageGenerationRequest) -> int:
        return 0  # priced per image

    def build_request(self, job: ImageJob) -> HttpRequest:
        parameters: dict[str, Any] = {"sampleCount": job.request.n}
        if (ratio := aspect_ratio(job.request)) is not None:
            parameters["aspectRatio"] = ratio
        body = {"instances": [{"prompt": job.request.prompt}], "parameters": parameters}
        return self.model_call(job, "predict", body)

    def parse_response(self, body: bytes, job: ImageJob) -> ImageBatch:
        data = parse_json_body(body)
        if not isinstance(data, dict):
            raise malformed("a predict response that is not a JSON object", job.host.spec.name)
        images = []
        for item in data.get("predictions") or []:
            if isinstance(item, dict) and isinstance(item.get("bytesBase64Encoded"), str):
                images.append(GeneratedImage(item["bytesBase64Encoded"], str(item.get("mimeType") or "image/png")))
        return ImageBatch(images)


IMAGEN = GeminiImages()
