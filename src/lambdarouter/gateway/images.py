"""POST /images/generations and POST /images as `Operation`s: one upstream call per request (or one per
image, for models that draw one per call), images charged at the catalog's per-image price
(`EndpointSpec.image`) times the number of images that came back, plus the tokens the provider reports at the
endpoint's token prices (Gemini's image models price their output per image token: `image_output`). Images
whose tokens the provider did not count apart are charged as chat charges them (budget.fill_image_tokens).

`response_format: url` answers a presigned S3 GET URL when a bucket is configured (image_store.py), else a
`data:` URL of the image, which works wherever a URL to an image is taken. The two routes differ only in their
answer: OpenAI's image object (`ImageGenerationOperation`), OpenRouter's (`OpenRouterImagesOperation`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio
import anyio.to_thread

from lambdarouter.core.budget import TOKENS_PER_OUTPUT_IMAGE, PromptSize, Quote, output_price
from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent, TokenUsage, UsageReport
from lambdarouter.core.pricing import generation_cost
from lambdarouter.core.routing import Candidate
from lambdarouter.dialects.openrouter.images import (
    ImageData,
    ImageGenerationRequest,
    ImageGenerationResponse,
    ImageUsage,
    OpenRouterImage,
    OpenRouterImageResponse,
    OpenRouterImageUsage,
)
from lambdarouter.gateway import image_store
from lambdarouter.gateway.operation import Operation, Priced, Receipt, keep_or_400, token_priced_images
from lambdarouter.gateway.upstream import parsed
from lambdarouter.providers import transport
from lambdarouter.providers.family import image_adapter_for
from lambdarouter.providers.images import ImageAdapter, ImageBatch, ImageJob
from lambdarouter.providers.openai.images import answers_base64_only

A = TypeVar("A")  # the route's answer


class ImagesOperation(Operation[ImageBatch, A]):
    """Everything but the answer's shape."""

    output = "image"

    def __init__(self, request: ImageGenerationRequest) -> None:
        self.request = request
        self.model_ids = list(dict.fromkeys(([request.model] if request.model else []) + (request.models or [])))
        self.provider = request.provider
        self.size = PromptSize(len(request.prompt.encode()), len(request.prompt), 0, 0)

    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        """The endpoints whose model takes this size, count and options; else a 400 with each reason."""
        return keep_or_400(candidates, lambda c: adapter_of(c).refuse(self.request, c.endpoint))

    def quote(self, candidate: Candidate) -> Quote:
        """Per-image prices, plus for token-priced models each call's prompt and each image's output tokens."""
        endpoint, adapter, n = candidate.endpoint, adapter_of(candidate), self.request.n
        calls = n if adapter.one_per_call else 1
        held = adapter.output_tokens_held(self.request)
        if endpoint.image_output is not None:
            held = max(held, TOKENS_PER_OUTPUT_IMAGE)  # what an image is charged when its tokens go unreported
        prompt_cost = n * endpoint.image + endpoint.request + calls * self.size.reserved_tokens * endpoint.prompt
        return Quote(prompt_cost + n * held * output_price(endpoint), prompt_cost)

    def price(self, usage: TokenUsage, reported: TokenUsage, images: int, endpoint: EndpointSpec) -> Priced:
        """Each image at the per-image price; a token-priced model's image tokens as chat's are."""
        priced = (token_priced_images(usage, reported, images, endpoint) if endpoint.image_output is not None
                  else Priced(usage, generation_cost(usage, endpoint)))
        return Priced(priced.usage, priced.cost + images * endpoint.image, priced.estimated)

    async def attempt(self, candidate: Candidate) -> ImageBatch:
        adapter = adapter_of(candidate)
        job = ImageJob(self.request, candidate.endpoint, candidate.host)
        provider = candidate.host.spec.name

        async def call() -> ImageBatch:
            body = await transport.send(adapter.build_request(job), adapter, provider,
                                        transport.timeout_for(candidate.host.spec))
            return parsed(provider, adapter.parse_response, body, job)

        batch = await call() if not adapter.one_per_call or self.request.n == 1 else await _each(call, self.request.n)
        images = batch.images[: self.request.n]
        if not images:
            # Every image withheld (a provider's safety filter drops them silently): nothing to charge for.
            raise GatewayError(502, f"{provider} returned no images for this prompt.",
                               metadata={"provider_name": provider}, origin="upstream")
        return ImageBatch(images, batch.usage)

    def outcome(self, result: ImageBatch) -> tuple[Sequence[StreamEvent], int]:
        # Image tokens a token-priced model left unreported are estimated by its price (`price`).
        return [UsageReport(result.usage)], len(result.images)



class ImageGenerationOperation(ImagesOperation[ImageGenerationResponse]):
    """POST /images/generations: OpenAI's answer, in the `response_format` asked for or OpenAI's default."""

    async def answer(self, result: ImageBatch, receipt: Receipt) -> ImageGenerationResponse:
        images, served = result.images, receipt.served_by
        if response_format(self.request, served) == "b64_json":
            data = [ImageData(b64_json=image.b64, revised_prompt=image.revised_prompt) for image in images]
        else:
            if image_store.bucket() is None:
                urls = [image_store.data_url(image) for image in images]
            else:
                urls = await anyio.to_thread.run_sync(image_store.publish, receipt.id, images)
            data = [ImageData(url=url, revised_prompt=image.revised_prompt)
                    for url, image in zip(urls, images, strict=True)]
        return ImageGenerationResponse(id=receipt.id, created=int(time.time()), data=data, model=served.model.id,
                                       provider=served.provider_name,
                                       usage=ImageUsage(images=len(images), cost=float(receipt.cost)))


class OpenRouterImagesOperation(ImagesOperation[OpenRouterImageResponse]):
    """POST /images, OpenRouter's image API: always base64, with each image's media type and the usage."""

    async def answer(self, result: ImageBatch, receipt: Receipt) -> OpenRouterImageResponse:
        usage = receipt.usage
        return OpenRouterImageResponse(
            created=int(time.time()),
            data=[OpenRouterImage(b64_json=image.b64, media_type=image.mime) for image in result.images],
            usage=OpenRouterImageUsage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                                       total_tokens=usage.prompt_tokens + usage.completion_tokens,
                                       cost=float(receipt.cost)))


def response_format(request: ImageGenerationRequest, candidate: Candidate) -> str:
    """What the client asked for; else what OpenAI answers for the model: `b64_json` for GPT Image models
    (https://platform.openai.com/docs/api-reference/images/create: they always answer base64), else `url`."""
    if request.response_format is not None:
        return request.response_format
    openai_format = candidate.host.spec.wire_format == "openai"
    return "b64_json" if openai_format and answers_base64_only(candidate.endpoint.upstream_id) else "url"


def adapter_of(candidate: Candidate) -> ImageAdapter:
    return image_adapter_for(candidate.host.spec.wire_format, candidate.endpoint.upstream_id)


async def _each(call: Callable[[], Awaitable[ImageBatch]], calls: int) -> ImageBatch:
    """`calls` concurrent calls, one image each, as one batch. The calls that failed are left out (like images
    a filter withheld: fewer come back and only those are charged); when every call failed, the first error."""
    outcomes: list[ImageBatch | GatewayError] = []

    async def one() -> None:
        try:
            outcomes.append(await call())
        except GatewayError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(calls):
            group.start_soon(one)
    batches = [o for o in outcomes if isinstance(o, ImageBatch)]
    if not any(batch.images for batch in batches):
        errors = [o for o in outcomes if isinstance(o, GatewayError)]
        if errors:
            raise errors[0]
    return ImageBatch([image for batch in batches for image in batch.images],
                      _total([batch.usage for batch in batches]))


def _total(usages: list[TokenUsage]) -> TokenUsage:
    return TokenUsage(*(sum(getattr(u, f) for u in usages) for f in TokenUsage.__struct_fields__))
