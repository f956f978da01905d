"""Gemini's image models ("Nano Banana": gemini-3.1-flash-image, gemini-3-pro-image) on /images/generations.

Reference: https://ai.google.dev/gemini-api/docs/image-generation — `generateContent` with
`generationConfig.responseModalities: ["IMAGE"]` (image-only output) and `generationConfig.imageConfig`
`{aspectRatio, imageSize}`; the images come back as `inlineData` parts and are priced per output token
(https://ai.google.dev/gemini-api/docs/pricing). The response is read by the chat translation
(gemini_stream.ResponseTranslator: image parts, thought-drafts skipped, usage with the IMAGE tokens apart),
so both routes see a response alike.

What the models take (Google's model page, https://docs.cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/3-pro-image,
stored copy): aspect ratios 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9; resolutions 1K (the
default, roughly 1 MP), 2K (roughly 4 MP) and 4K (roughly 16 MP); `candidateCount: 1`, so `n` images take
`n` calls. An OpenAI `size` is accepted when its ratio is one of those and its pixels fit a resolution (with
10% slack: Google's own 1K sizes such as 1376x768 are a little over 1 MP); the smallest such resolution is
asked for. Anything else is a 400 rather than a silently different picture.
"""

from __future__ import annotations

from typing import Any

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import Finish, ImageDelta, TokenUsage, UsageReport
from lambdarouter.dialects.openrouter.images import ImageGenerationRequest
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.gemini.images import GeminiImageAdapter
from lambdarouter.providers.gemini.stream import ResponseTranslator
from lambdarouter.providers.images import (
    GeneratedImage,
    ImageBatch,
    ImageJob,
    content_filtered,
    reduced_ratio,
    refuse_options,
)

RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
MEGAPIXEL = 1024 * 1024
# imageSize -> its nominal pixels, smallest first (the same model page: "1K (roughly 1MP) and 2K (roughly
# 4MP) ... 4K (roughly 16MP)").
RESOLUTIONS: tuple[tuple[str, int], ...] = (("1K", MEGAPIXEL), ("2K", 4 * MEGAPIXEL), ("4K", 16 * MEGAPIXEL))
DEFAULT_RESOLUTION = "1K"
SLACK = 1.1
# Output tokens of one image per resolution, the most the model page documents for any Gemini image model
# ("1120 tokens for 1K ... and 2K ..., and 2000 tokens for 4K"): the budget hold per image.
IMAGE_TOKENS = {"1K": 1120, "2K": 1120, "4K": 2000}


def image_config(request: ImageGenerationRequest) -> dict[str, str] | None:
    """The imageConfig of the requested size: {} for none / auto (the model's default), None when the size
    has no documented ratio or is larger than 4K."""
    size = request.dimensions()
    if size is None:
        return {}
    ratio = reduced_ratio(*size)
    pixels = size[0] * size[1]
    resolution = next((name for name, nominal in RESOLUTIONS if pixels <= nominal * SLACK), None)
    if ratio not in RATIOS or resolution is None:
        return None
    return {"aspectRatio": ratio, "imageSize": resolution}


def resolution_of(request: ImageGenerationRequest) -> str:
    return (image_config(request) or {}).get("imageSize", DEFAULT_RESOLUTION)


def _split_data_url(url: str) -> GeneratedImage:
    """`data:{mime};base64,{data}` (as gemini_stream makes it) back into its parts."""
    head, _, data = url.partition(",")
    return GeneratedImage(data, head.removeprefix("data:").removesuffix(";base64"))


class GeminiImageModels(GeminiImageAdapter):
    one_per_call = True

    def refuse(self, request: ImageGenerationRequest, endpoint: EndpointSpec) -> str | None:
        if image_config(request) is None:
            return (f"does not make size {request.size} (Gemini image models take the aspect ratios "
                    f"{', '.join(RATIOS)} at up to 4K, e.g. 1024x1024, 1536x1024, 1024x1536)")
        return refuse_options(request, {})

    def output_tokens_held(self, request: ImageGenerationRequest) -> int:
        return IMAGE_TOKENS[resolution_of(request)]

    def build_request(self, job: ImageJob) -> HttpRequest:
        generation: dict[str, Any] = {"responseModalities": ["IMAGE"]}
        if config := image_config(job.request):
            generation["imageConfig"] = config
        body = {"contents": [{"role": "user", "parts": [{"text": job.request.prompt}]}],
                "generationConfig": generation}
        return self.model_call(job, "generateContent", body)

    def parse_response(self, body: bytes, job: ImageJob) -> ImageBatch:
        data = parse_json_body(body)
        provider = job.host.spec.name
        if not isinstance(data, dict) or not {"candidates", "promptFeedback"} & data.keys():
            raise malformed("a generateContent response without candidates", provider)
        images: list[GeneratedImage] = []
        usage, finish = TokenUsage(), None
        for event in ResponseTranslator(provider).translate(data):
            if isinstance(event, ImageDelta):
                images.append(_split_data_url(event.url))
            elif isinstance(event, UsageReport):
                usage = event.usage
            elif isinstance(event, Finish):
                finish = event
        if not images and finish is not None and finish.reason != "stop":
            native = finish.native or finish.reason
            if finish.reason == "content_filter":
                # No candidates at all: the prompt was blocked (PromptFeedback); else the drawn image was.
                blocked_prompt = not data.get("candidates")
                raise content_filtered(provider, "prompt" if blocked_prompt else "image", native)
            raise GatewayError(502, f"{provider} drew no image (finish reason {native}).",
                               metadata={"provider_name": provider})
        return ImageBatch(images, usage)


IMAGE_MODELS = GeminiImageModels()
