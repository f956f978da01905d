"""OpenAI image generation: `POST /images/generations` on OpenAI, Azure and OpenAI-compatible hosts.

Reference: https://platform.openai.com/docs/api-reference/images/create and the image generation guide
(https://platform.openai.com/docs/guides/image-generation). What each model family takes:

- GPT Image (`gpt-image-*`): n 1-10; size 1024x1024, 1536x1024, 1024x1536 or auto; quality low | medium |
  high | auto; `background` and `output_format`. It always answers base64 and refuses `response_format`,
  so that field is never sent: the gateway makes the data URL itself.
- DALL·E 3: n = 1 only; size 1024x1024, 1792x1024, 1024x1792; quality standard | hd; style vivid | natural.
- DALL·E 2: n 1-10; size 256x256, 512x512, 1024x1024; no quality or style options.

Other upstream ids (an OpenAI-compatible host's own models) are passed through unchecked; the host's own
400 then reaches the client as such.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.dialects.openrouter.images import MAX_IMAGES, ImageGenerationRequest
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.family import Member
from lambdarouter.providers.images import GeneratedImage, ImageBatch, ImageJob, refuse_count, refuse_options
from lambdarouter.providers.openai.family import FAMILY


class ImageModel(Struct, frozen=True):
    most: int
    sizes: frozenset[str]
    options: Mapping[str, frozenset[str] | None]
    takes_response_format: bool


GPT_IMAGE = ImageModel(MAX_IMAGES, frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"}),
                   {"quality": frozenset({"low", "medium", "high", "auto"}),
                    "background": frozenset({"transparent", "opaque", "auto"}), "output_format": None}, False)
DALL_E_3 = ImageModel(1, frozenset({"1024x1024", "1792x1024", "1024x1792"}),
                  {"quality": frozenset({"standard", "hd"}), "style": frozenset({"vivid", "natural"})}, True)
DALL_E_2 = ImageModel(MAX_IMAGES, frozenset({"256x256", "512x512", "1024x1024"}), {}, True)


def image_model(upstream_id: str) -> ImageModel | None:
    if upstream_id.startswith("gpt-image") or upstream_id.startswith("chatgpt-image"):
        return GPT_IMAGE
    if upstream_id.startswith("dall-e-3"):
        return DALL_E_3
    if upstream_id.startswith("dall-e-2"):
        return DALL_E_2
    return None


def answers_base64_only(upstream_id: str) -> bool:
    """GPT Image models answer nothing but base64 (and OpenAI's API answers them so by default)."""
    return image_model(upstream_id) is GPT_IMAGE


class OpenAIImages(Member):
    family = FAMILY
    one_per_call = False

    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        if endpoint.image_output is not None:
            # Priced per image token: a model that draws through a chat API (e.g. Gemini's image models on
            # OpenRouter, which has no Image API: https://openrouter.ai/docs/features/multimodal/image-generation).
            return "draws images through /chat/completions (`modalities: [\"image\"]`) only"
        model = image_model(endpoint.upstream_id)
        if model is None:
            return None
        if request.size is not None and request.size not in model.sizes:
            return f"does not make size {request.size} (one of {', '.join(sorted(model.sizes))})"
        return refuse_count(request, model.most) or refuse_options(request, model.options)

    def output_tokens_held(self, request: ImageGenerationRequest) -> int:
        return 0  # priced per image

    def build_request(self, job: ImageJob) -> HttpRequest:
        request, model = job.request, image_model(job.endpoint.upstream_id)
        body: dict[str, Any] = {"model": job.endpoint.upstream_id, "prompt": request.prompt, "n": request.n}
        for name in ("size", "quality", "style", "background", "output_format"):
            if (value := getattr(request, name)) is not None:
                body[name] = value
        if model is None or model.takes_response_format:
            body["response_format"] = "b64_json"  # the gateway makes the URL (a data: URL) itself
        return FAMILY.request(job.host, "images/generations", json.dumps(body).encode())

    def parse_response(self, body: bytes, job: ImageJob) -> ImageBatch:
        data = parse_json_body(body)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise malformed("an images response without data", job.host.spec.name)
        # GPT Image answers in `output_format` (png by default); DALL·E answers PNG.
        mime = f"image/{data.get('output_format') or job.request.output_format or 'png'}"
        images = []
        for item in data["data"]:
            if not isinstance(item, dict) or not isinstance(item.get("b64_json"), str):
                raise malformed("an image without b64_json", job.host.spec.name)
            images.append(GeneratedImage(item["b64_json"], mime, item.get("revised_prompt")))
        return ImageBatch(images)


ADAPTER = OpenAIImages()
