"""POST /images/generations for the image generators beside OpenAI, Imagen and Nova Canvas: Gemini's image
models (generateContent), Titan Image Generator v2 and Stability on Bedrock. The official SDK against a fake
upstream, through a real gateway.

Upstream bodies are synthesized from each provider's documented response shape (no recordings):
- Gemini https://ai.google.dev/gemini-api/docs/image-generation (`candidates[0].content.parts[].inlineData`)
  with UsageMetadata's `candidatesTokensDetails` (https://ai.google.dev/api/generate-content#UsageMetadata);
- Titan https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-image.html (`images[]`);
- Stability https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-diffusion-3-5-large.html
  (`{"seeds", "finish_reasons", "images"}`; a filtered answer is `{"finish_reasons": ["Filter reason: ..."]}`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.catalog.spec import EndpointSpec
from tests.accounting import as_key, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, RunningGateway
from tests.test_image_generation import PNG, per_image, sdk

FLASH = "google/gemini-3.1-flash-image"
FLASH_PATH = "/v1beta/models/gemini-3.1-flash-image:generateContent"
PRO_PATH = "/v1beta/models/gemini-3-pro-image:generateContent"
TITAN_PATH = "/model/amazon.titan-image-generator-v2:0/invoke"
SD35_PATH = "/model/stability.sd3-5-large-v1:0/invoke"
ULTRA_PATH = "/model/stability.stable-image-ultra-v1:1/invoke"
PROMPT_TOKENS, IMAGE_TOKENS = 9, 1120


def gemini_drawing(image_tokens: int | None = IMAGE_TOKENS) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": PROMPT_TOKENS, "candidatesTokenCount": IMAGE_TOKENS}
    if image_tokens is not None:
        usage["candidatesTokensDetails"] = [{"modality": "IMAGE", "tokenCount": image_tokens}]
    return {"candidates": [{"content": {"role": "model", "parts": [
        {"inlineData": {"mimeType": "image/png", "data": PNG}}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage, "modelVersion": "gemini-3.1-flash-image"}


def google_endpoint(model: str) -> EndpointSpec:
    endpoints = load_catalog(EXTRA_MODELS).resolve(model).model.endpoints
    return next(e for e in endpoints if e.host == "google-ai-studio")


def token_cost(model: str, images: int, image_tokens: int = IMAGE_TOKENS) -> Decimal:
    endpoint = google_endpoint(model)
    assert endpoint.image_output is not None
    return images * (PROMPT_TOKENS * endpoint.prompt + image_tokens * endpoint.image_output)


def test_gemini_image_model_one_call_per_image(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.json(gemini_drawing()), path=FLASH_PATH, times=2)
    result = sdk(gateway, plaintext).images.generate(model=FLASH, prompt="a lighthouse", n=2, size="1536x1024",
                                                     response_format="b64_json")
    assert [d.b64_json for d in result.data or []] == [PNG, PNG]
    sent = list(fake_upstream.iter_requests(FLASH_PATH))
    assert len(sent) == 2  # candidateCount is 1 on these models: n images are n calls
    assert sent[0].headers.get("x-goog-api-key")
    assert sent[0].json() == {"contents": [{"role": "user", "parts": [{"text": "a lighthouse"}]}],
                              "generationConfig": {"responseModalities": ["IMAGE"],
                                                   "imageConfig": {"aspectRatio": "3:2", "imageSize": "2K"}}}
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.status == "success" and record.provider == "google-ai-studio" and record.model == FLASH
    assert record.num_media_completion == 2
    assert record.cost == token_cost(FLASH, 2)
    assert result.model_dump()["usage"]["cost"] == pytest.approx(float(record.cost))


def test_gemini_image_tokens_unreported_are_estimated(http: Any, fake_upstream: FakeUpstream) -> None:
    """Without candidatesTokensDetails the image is charged as chat charges it: the documented estimate."""
    fake_upstream.reply(Reply.json(gemini_drawing(image_tokens=None)), path=PRO_PATH)
    response = http.post("/images/generations", json={"model": "google/gemini-3-pro-image", "prompt": "a fox"})
    assert response.status_code == 200, response.text
    assert fake_upstream.requests[0].json()["generationConfig"] == {"responseModalities": ["IMAGE"]}
    endpoint = google_endpoint("google/gemini-3-pro-image")
    assert endpoint.image_output is not None
    # the 1120 reported output tokens are the image's (fill_image_tokens: min(estimate, completion tokens))
    expected = PROMPT_TOKENS * endpoint.prompt + IMAGE_TOKENS * endpoint.image_output
    assert response.json()["usage"] == {"images": 1, "cost": float(expected)}


def test_gemini_prompt_blocked_is_400(http: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                                    "usageMetadata": {"promptTokenCount": 5}}), path=FLASH_PATH)
    response = http.post("/images/generations", json={"model": FLASH, "prompt": "x"})
    assert response.status_code == 400, response.text
    assert "content filter" in response.json()["error"]["message"]


def test_gemini_chat_only_host_is_not_an_image_api(http: Any, fake_upstream: FakeUpstream) -> None:
    """OpenRouter draws Gemini images through chat only: /images/generations never goes there."""
    response = http.post("/images/generations", json={"model": FLASH, "prompt": "x",
                                                      "provider": {"only": ["openrouter"]}})
    assert response.status_code == 400 and "/chat/completions" in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_gemini_budget_counts_image_tokens(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    poor, _ = new_key(gateway, limit=0.05)  # one 1K image of 3 Pro Image holds ~$0.15 of image tokens
    with as_key(gateway, poor) as client:
        refused = client.post("/images/generations", json={"model": "google/gemini-3-pro-image", "prompt": "x"})
    assert refused.status_code == 402, refused.text
    assert fake_upstream.requests == []


def test_titan_image_v2_shares_the_text_image_body(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"images": [PNG, PNG], "error": None}), path=TITAN_PATH)
    result = sdk(gateway, plaintext).images.generate(model="amazon/titan-image-generator-v2", prompt="a bridge", n=2,
                                                     size="1152x768", response_format="b64_json",
                                                     extra_body={"quality": "premium"})
    assert [d.b64_json for d in result.data or []] == [PNG, PNG]
    sent = fake_upstream.requests[0]
    assert sent.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")
    assert sent.json() == {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a bridge"},
                           "imageGenerationConfig": {"numberOfImages": 2, "width": 1152, "height": 768,
                                                     "quality": "premium"}}
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == 2 * per_image("amazon/titan-image-generator-v2") and record.num_media_completion == 2


def test_stability_one_call_per_image(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"seeds": [7], "finish_reasons": [None], "images": [PNG]}), path=SD35_PATH,
                        times=2)
    result = sdk(gateway, plaintext).images.generate(model="stability/sd3.5-large", prompt="a castle", n=2,
                                                     size="1536x864", output_format="jpeg")
    assert [d.url for d in result.data or []] == [f"data:image/jpeg;base64,{PNG}"] * 2
    sent = list(fake_upstream.iter_requests(SD35_PATH))
    assert len(sent) == 2
    assert sent[0].json() == {"prompt": "a castle", "mode": "text-to-image", "aspect_ratio": "16:9",
                              "output_format": "jpeg"}
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == 2 * per_image("stability/sd3.5-large") and record.num_media_completion == 2


def test_stability_ultra_body_and_partial_filter(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """Of two calls one image is filtered: one comes back and only it is charged."""
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"seeds": [1], "finish_reasons": [None], "images": [PNG]}), path=ULTRA_PATH)
    fake_upstream.reply(Reply.json({"finish_reasons": ["Filter reason: output image"]}), path=ULTRA_PATH)
    with as_key(gateway, plaintext) as client:
        response = client.post("/images/generations", json={"model": "stability/stable-image-ultra",
                                                             "prompt": "a cat", "n": 2, "size": "1024x1024"})
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["images"] == 1
    assert fake_upstream.requests[0].json() == {"prompt": "a cat", "aspect_ratio": "1:1", "output_format": "png"}
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == per_image("stability/stable-image-ultra") and record.num_media_completion == 1


@pytest.mark.parametrize(("reason", "status"), [("Filter reason: prompt", 400), ("Filter reason: output image", 502),
                                                ("Inference error", 502)])
def test_stability_refusals(gateway: RunningGateway, fake_upstream: FakeUpstream, reason: str, status: int) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"finish_reasons": [reason]}), path=SD35_PATH)
    with as_key(gateway, plaintext) as client:
        response = client.post("/images/generations", json={"model": "stability/sd3.5-large", "prompt": "x"})
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]["message"]
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.status == "error" and record.cost == 0


@pytest.mark.parametrize(("body", "says"), [
    ({"model": FLASH, "prompt": "x", "size": "1792x1024"}, "aspect ratios"),
    ({"model": FLASH, "prompt": "x", "size": "8192x8192"}, "up to 4K"),
    ({"model": FLASH, "prompt": "x", "quality": "hd", "provider": {"only": ["google-ai-studio"]}},
     "does not support `quality`"),
    ({"model": "amazon/titan-image-generator-v2", "prompt": "x", "size": "1280x720"}, "1280x720"),
    ({"model": "amazon/titan-image-generator-v2", "prompt": "x" * 513}, "512 characters"),
    ({"model": "amazon/titan-image-generator-v2", "prompt": "x", "n": 6}, "at most 5 images"),
    ({"model": "stability/sd3.5-large", "prompt": "x", "size": "1024x768"}, "aspect ratios"),
    ({"model": "stability/stable-image-core", "prompt": "x", "output_format": "webp"}, "output_format 'webp'"),
    ({"model": "stability/stable-image-core", "prompt": "x", "style": "vivid"}, "does not support `style`"),
])
def test_bad_request_is_400(http: Any, fake_upstream: FakeUpstream, body: dict[str, Any], says: str) -> None:
    response = http.post("/images/generations", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_models_list_the_new_image_models(http: Any) -> None:
    listed = {m["id"] for m in http.get("/models?output_modalities=image").json()["data"]}
    assert {"amazon/titan-image-generator-v2", "stability/sd3.5-large", "stability/stable-image-core",
            "stability/stable-image-ultra", FLASH} <= listed


def test_sdk_raises_on_refusal(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, _ = new_key(gateway, limit=1)
    with pytest.raises(openai.BadRequestError):
        sdk(gateway, plaintext).images.generate(model="stability/sd3.5-large", prompt="x", size="1024x768")
    assert fake_upstream.requests == []
