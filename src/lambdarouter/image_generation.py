"""POST /images/generations as an `Operation`: one upstream call per request, images charged at the
catalog's per-image price (`EndpointSpec.image`) times the number of images that came back.

`response_format: url` answers a presigned S3 GET URL when a bucket is configured (image_store.py), else a
`data:` URL of the image, which works wherever a URL to an image is taken.
"""

from __future__ import annotations

import time
from decimal import Decimal

import anyio.to_thread

from lambdarouter import image_store
from lambdarouter.budget import PromptSize
from lambdarouter.errors import GatewayError
from lambdarouter.operation import Done, keep_or_400
from lambdarouter.providers import transport
from lambdarouter.providers.events import TokenUsage
from lambdarouter.providers.images import GeneratedImage, ImageJob, image_adapter_for
from lambdarouter.routing import Candidate
from lambdarouter.schemas.images import ImageData, ImageGenerationRequest, ImageGenerationResponse, ImageUsage


class ImageGenerationOperation:
    output = "image"

    def __init__(self, request: ImageGenerationRequest) -> None:
        self.request = request
        self.model_ids = list(dict.fromkeys(([request.model] if request.model else []) + (request.models or [])))
        self.provider = request.provider
        self.size = PromptSize(len(request.prompt.encode()), len(request.prompt), 0, 0)

    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        """The endpoints whose model takes this size, count and options; else a 400 with each reason."""
        return keep_or_400(candidates, lambda c: image_adapter_for(c.host.spec.wire_format).refuse(
            self.request, c.endpoint))

    def worst_case(self, candidate: Candidate) -> Decimal:
        return self.request.n * candidate.endpoint.image + candidate.endpoint.request

    async def attempt(self, candidate: Candidate) -> list[GeneratedImage]:
        adapter = image_adapter_for(candidate.host.spec.wire_format)
        job = ImageJob(self.request, candidate.endpoint, candidate.host)
        provider = candidate.host.spec.name
        body = await transport.send(adapter.build_request(job), adapter, provider,
                                    transport.timeout_for(candidate.host.spec))
        images = adapter.parse_response(body, job)
        if not images:
            # Every image withheld (a provider's safety filter drops them silently): nothing to charge for.
            raise GatewayError(502, f"{provider} returned no images for this prompt.",
                               metadata={"provider_name": provider})
        return images[: self.request.n]

    def outcome(self, result: list[GeneratedImage]) -> tuple[TokenUsage, int]:
        return TokenUsage(), len(result)


async def response(done: Done[list[GeneratedImage]], request: ImageGenerationRequest) -> ImageGenerationResponse:
    if request.response_format == "b64_json":
        data = [ImageData(b64_json=image.b64, revised_prompt=image.revised_prompt) for image in done.result]
    else:
        if image_store.bucket() is None:
            urls = [image_store.data_url(image) for image in done.result]
        else:
            urls = await anyio.to_thread.run_sync(image_store.publish, done.id, done.result)
        data = [ImageData(url=url, revised_prompt=image.revised_prompt) for url, image in zip(urls, done.result,
                                                                                               strict=True)]
    return ImageGenerationResponse(id=done.id, created=int(time.time()), data=data, model=done.served_by.model.id,
                                   provider=done.served_by.endpoint.host,
                                   usage=ImageUsage(images=len(done.result), cost=float(done.cost)))
