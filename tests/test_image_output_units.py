"""The pure pieces of chat image output: translators, the fold, prices and the estimate for unsplit usage."""

from __future__ import annotations

import json
from decimal import Decimal

from lambdarouter.core.budget import TOKENS_PER_OUTPUT_IMAGE, fill_image_tokens
from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.events import ImageDelta, TextDelta, TokenUsage, UsageReport
from lambdarouter.core.pricing import generation_cost
from lambdarouter.dialects.openrouter.answer import message_body
from lambdarouter.dialects.openrouter.assemble import Accumulator, Identity
from lambdarouter.dialects.openrouter.chunks import ChunkWriter
from lambdarouter.providers.gemini.stream import ResponseTranslator
from lambdarouter.providers.openai.chat import OpenAIAdapter

URL = "data:image/png;base64,iVBORw0KGgo="
ENDPOINT = EndpointSpec(host="h", upstream_id="m", context_length=1000, prompt=Decimal("0.000001"),
                        completion=Decimal("0.00001"), image_output=Decimal("0.0001"))


def test_gemini_inline_images_become_image_events() -> None:
    """Parts as https://ai.google.dev/gemini-api/docs/image-generation shows them; thought images are drafts."""
    events = ResponseTranslator().translate({"candidates": [{"content": {"parts": [
        {"text": "Here:"},
        {"inlineData": {"mimeType": "image/png", "data": "draft"}, "thought": True},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGR"}},
    ]}, "finishReason": "STOP"}], "usageMetadata": {
        "promptTokenCount": 5, "candidatesTokenCount": 1292,
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 2}, {"modality": "IMAGE", "tokenCount": 1290}]}})
    assert [e for e in events if isinstance(e, (TextDelta, ImageDelta))] == [TextDelta("Here:"), ImageDelta(URL)]
    [usage] = [e.usage for e in events if isinstance(e, UsageReport)]
    assert (usage.completion_tokens, usage.image_tokens) == (1292, 1290)


def test_openai_format_images_and_image_tokens() -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": "", "images": [
        {"type": "image_url", "image_url": {"url": URL}}, {"type": "image_url"}]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1290,
                  "completion_tokens_details": {"image_tokens": 1290}}}
    events = OpenAIAdapter().parse_response(json.dumps(body).encode())
    assert [e for e in events if isinstance(e, ImageDelta)] == [ImageDelta(URL)]
    [usage] = [e.usage for e in events if isinstance(e, UsageReport)]
    assert usage.image_tokens == 1290


def test_fold_and_chunk_carry_images() -> None:
    acc = Accumulator()
    for event in (TextDelta("a"), ImageDelta(URL)):
        acc.add(event)
    message = message_body(acc)
    assert message["images"] == [{"type": "image_url", "image_url": {"url": URL}}] and message["content"] == "a"
    out = ChunkWriter(Identity("gen-1", 1, "m", "h")).events([ImageDelta(URL)], first=False)
    assert json.loads(out.removeprefix(b"data: "))["choices"][0]["delta"] == {
        "images": [{"type": "image_url", "image_url": {"url": URL}}]}


def test_image_tokens_cost_the_image_output_price() -> None:
    usage = TokenUsage(prompt_tokens=10, completion_tokens=1300, image_tokens=1290)
    assert generation_cost(usage, ENDPOINT) == (10 * ENDPOINT.prompt + 10 * ENDPOINT.completion
                                                + 1290 * Decimal("0.0001"))
    # Without an image-output price every output token is a completion token.
    plain = ENDPOINT.model_copy(update={"image_output": None})
    assert generation_cost(usage, plain) == 10 * plain.prompt + 1300 * plain.completion


def test_unsplit_image_tokens_are_estimated() -> None:
    reported = TokenUsage(prompt_tokens=10, completion_tokens=1300)
    assert fill_image_tokens(reported, reported, 1) == TokenUsage(10, 1300, image_tokens=TOKENS_PER_OUTPUT_IMAGE)
    # Nothing reported (a stream cut short): the images are added to the text estimate.
    estimated = TokenUsage(prompt_tokens=10, completion_tokens=4)
    assert fill_image_tokens(estimated, TokenUsage(), 2) == TokenUsage(
        10, 4 + 2 * TOKENS_PER_OUTPUT_IMAGE, image_tokens=2 * TOKENS_PER_OUTPUT_IMAGE)
    assert fill_image_tokens(reported, reported, 0) is None
    assert fill_image_tokens(TokenUsage(1, 5, image_tokens=5), reported, 1) is None
