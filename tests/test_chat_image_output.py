"""Image output through chat (`modalities: ["image", "text"]`), as OpenRouter does it, through a real gateway.

The client is the official `openai` SDK; `images` is OpenRouter's field, so it is read from `to_dict()`.
Upstream bodies are synthesized from the documented shapes (no recording of an image answer exists here):

- Gemini: https://ai.google.dev/gemini-api/docs/image-generation (REST response: `candidates[0].content.parts`
  with a `text` part and an `inlineData {mimeType, data}` part, data in base64) and the UsageMetadata reference
  https://ai.google.dev/api/generate-content#UsageMetadata (`candidatesTokensDetails`: one ModalityTokenCount
  per modality); 1120 image tokens is Google's documented count for a 1K image of Gemini 3.1 Flash Image.
- OpenRouter (OpenAI format): https://openrouter.ai/docs/features/multimodal/image-generation
  (`message.images` / `delta.images`: `[{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}]`).

The image itself is a real 1x1 PNG (red), so a client could decode it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from lambdarouter.core.catalog import load_catalog
from tests.accounting import admin, as_key, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, RunningGateway

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
DATA_URL = f"data:image/png;base64,{PNG}"
MODEL = "google/gemini-3.1-flash-image"
GEMINI_PATH = "/v1beta/models/gemini-3.1-flash-image:generateContent"
GEMINI_STREAM_PATH = "/v1beta/models/gemini-3.1-flash-image:streamGenerateContent"
OPENROUTER_PATH = "/openrouter/v1/chat/completions"
DRAW = [{"role": "user", "content": "Draw a red square and say what it is."}]
IMAGE_TOKENS, TEXT_TOKENS, PROMPT_TOKENS = 1120, 6, 12


def via(host: str, **extra: Any) -> dict[str, Any]:
    return {"modalities": ["image", "text"], "provider": {"only": [host]}, **extra}


def expected_cost(host: str) -> Decimal:
    """Prompt and text at their prices, the image's tokens at the image-output price (catalog data)."""
    endpoint = next(e for e in load_catalog(EXTRA_MODELS).resolve(MODEL).model.endpoints if e.host == host)
    assert endpoint.image_output is not None
    return PROMPT_TOKENS * endpoint.prompt + TEXT_TOKENS * endpoint.completion + IMAGE_TOKENS * endpoint.image_output


def gemini_usage() -> dict[str, Any]:
    return {"promptTokenCount": PROMPT_TOKENS, "candidatesTokenCount": IMAGE_TOKENS + TEXT_TOKENS,
            "totalTokenCount": PROMPT_TOKENS + IMAGE_TOKENS + TEXT_TOKENS,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": IMAGE_TOKENS},
                                        {"modality": "TEXT", "tokenCount": TEXT_TOKENS}]}


def gemini_answer() -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "A red square."}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": gemini_usage(), "modelVersion": "gemini-3.1-flash-image", "responseId": "resp-img-1"}


def sse(*objects: dict[str, Any]) -> Reply:
    return Reply.sse([f"data: {json.dumps(o)}\r\n\r\n" for o in objects])


def openrouter_usage() -> dict[str, Any]:
    return {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": IMAGE_TOKENS + TEXT_TOKENS,
            "total_tokens": PROMPT_TOKENS + IMAGE_TOKENS + TEXT_TOKENS,
            "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": IMAGE_TOKENS}}


def as_json(response: Any) -> Any:
    """The SDK object as its JSON, OpenRouter's fields (`images`, `usage.cost`) included."""
    return response.to_dict()


def sdk(gateway: RunningGateway, plaintext: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url, api_key=plaintext, max_retries=0, timeout=15)


def streamed(client: openai.OpenAI, host: str) -> tuple[str, list[str], dict[str, Any]]:
    """(text, image URLs, usage) of a streamed answer, read as a client reads OpenRouter's chunks."""
    text, images, usage = "", list[str](), dict[str, Any]()
    for chunk in client.chat.completions.create(model=MODEL, messages=DRAW, stream=True,  # type: ignore[arg-type]
                                                extra_body=via(host)):
        data = as_json(chunk)
        for choice in data["choices"]:
            text += choice["delta"].get("content") or ""
            images += [image["image_url"]["url"] for image in choice["delta"].get("images") or ()]
        usage = data.get("usage") or usage
    return text, images, usage


def test_gemini_image_answer(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.json(gemini_answer()), path=GEMINI_PATH)
    reply = sdk(gateway, plaintext).chat.completions.create(model=MODEL, messages=DRAW,  # type: ignore[arg-type]
                                                            extra_body=via("google-ai-studio"))
    message = as_json(reply)["choices"][0]["message"]
    assert message["content"] == "A red square."
    assert message["images"] == [{"type": "image_url", "image_url": {"url": DATA_URL}}]
    sent = fake_upstream.requests[0].json()
    assert sent["generationConfig"]["responseModalities"] == ["IMAGE", "TEXT"]
    usage = as_json(reply)["usage"]
    assert usage["completion_tokens_details"]["image_tokens"] == IMAGE_TOKENS
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.num_media_completion == 1 and record.status == "success"
    assert record.cost == expected_cost("google-ai-studio") and usage["cost"] == float(record.cost)
    assert not record.usage_estimated


def test_gemini_image_stream(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    text_chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": "A red square."}]}, "index": 0}],
                  "modelVersion": "gemini-3.1-flash-image", "responseId": "resp-img-2"}
    image_chunk = {"candidates": [{"content": {"role": "model", "parts": [
        {"inlineData": {"mimeType": "image/png", "data": PNG}}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": gemini_usage(), "modelVersion": "gemini-3.1-flash-image", "responseId": "resp-img-2"}
    fake_upstream.reply(sse(text_chunk, image_chunk), path=GEMINI_STREAM_PATH)
    text, images, usage = streamed(sdk(gateway, plaintext), "google-ai-studio")
    assert (text, images) == ("A red square.", [DATA_URL])
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.streamed and record.num_media_completion == 1
    assert record.cost == expected_cost("google-ai-studio") and usage["cost"] == float(record.cost)


def test_openrouter_image_answer(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.json({
        "id": "gen-or-1", "object": "chat.completion", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "A red square.",
            "images": [{"type": "image_url", "image_url": {"url": DATA_URL}}]}}],
        "usage": openrouter_usage()}), path=OPENROUTER_PATH)
    reply = sdk(gateway, plaintext).chat.completions.create(model=MODEL, messages=DRAW,  # type: ignore[arg-type]
                                                            extra_body=via("openrouter"))
    assert as_json(reply)["choices"][0]["message"]["images"] == [{"type": "image_url",
                                                                    "image_url": {"url": DATA_URL}}]
    sent = fake_upstream.requests[0]
    assert sent.json()["modalities"] == ["image", "text"] and sent.json()["model"] == MODEL
    assert sent.headers.get("authorization", "").startswith("Bearer ")
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.provider == "openrouter" and record.num_media_completion == 1
    assert record.cost == expected_cost("openrouter") and as_json(reply)["usage"]["cost"] == float(record.cost)


def test_openrouter_image_stream(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    base = {"id": "gen-or-2", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    image = {"type": "image_url", "image_url": {"url": DATA_URL}}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "A red square."}}]},
              {**base, "choices": [{"index": 0, "delta": {"images": [image]}}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {**base, "choices": [], "usage": openrouter_usage()}]
    fake_upstream.reply(Reply.sse([*(f"data: {json.dumps(c)}\n\n" for c in chunks), "data: [DONE]\n\n"]),
                        path=OPENROUTER_PATH)
    text, images, usage = streamed(sdk(gateway, plaintext), "openrouter")
    assert (text, images) == ("A red square.", [DATA_URL])
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.streamed and record.num_media_completion == 1
    assert record.cost == expected_cost("openrouter") and usage["cost"] == float(record.cost)


def test_generation_and_usage_show_the_image_count(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.json(gemini_answer()), path=GEMINI_PATH)
    with as_key(gateway, plaintext) as client:
        response = client.post("/chat/completions", json={"model": MODEL, "messages": DRAW,
                                                          **via("google-ai-studio")})
        assert response.status_code == 200, response.text
        wait_for_records(gateway, key_hash, 1)
        shown = client.get("/generation", params={"id": response.headers["x-generation-id"]}).json()["data"]
    assert shown["num_media_completion"] == 1 and shown["num_media_prompt"] == 0
    with admin(gateway) as client:
        log = client.get("/generations", params={"key": key_hash}).json()["data"]
        report = client.get("/usage", params={"by": "key", "bucket": "hour"}).json()["data"]
    assert log[0]["num_media_completion"] == 1
    [group] = [g for g in report["groups"] if g["group"].endswith(key_hash[:12])]
    assert group["images"] == 1 and report["totals"]["images"] >= 1


def test_images_generations_records_its_image_count(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG}] * 2}), path="/v1/images/generations")
    sdk(gateway, plaintext).images.generate(model="openai/gpt-image-1", prompt="two red squares", n=2)
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.num_media_completion == 2


@pytest.mark.parametrize(("body", "says"), [
    ({"model": "google/gemini-3.8-flash", "modalities": ["image", "text"]}, "does not output image"),
    ({"model": "anthropic/claude-3-opus", "modalities": ["image"]}, "does not output image"),
    ({"model": MODEL, "modalities": ["video"]}, "modalities"),
    ({"model": MODEL, "modalities": []}, "modalities"),
    ({"model": MODEL, "modalities": "image"}, "modalities"),
    ({"model": "openai/gpt-4o", "modalities": ["audio"]}, "does not output audio"),
])
def test_modalities_the_model_cannot_serve_are_400(http: httpx.Client, fake_upstream: FakeUpstream,
                                                   body: dict[str, Any], says: str) -> None:
    response = http.post("/chat/completions", json={"messages": DRAW, **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400 and says in error["message"]
    assert fake_upstream.requests == []


def test_routing_picks_the_model_that_can_draw(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(gemini_answer()), path=GEMINI_PATH)
    response = http.post("/chat/completions", json={
        "model": "google/gemini-3.8-flash", "models": [MODEL], "messages": DRAW, **via("google-ai-studio")})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == MODEL and len(response.json()["choices"][0]["message"]["images"]) == 1
    assert [r.path for r in fake_upstream.requests] == [GEMINI_PATH]


def test_image_api_models_are_not_served_through_chat(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    response = http.post("/chat/completions", json={"model": "openai/gpt-image-1", "messages": DRAW,
                                                    "modalities": ["image"]})
    assert response.status_code == 404, response.text
    assert "/images/generations only" in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_budget_covers_image_output(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """The worst case prices every output token at the image-output price: 32,768 x $0.00006 > $1."""
    poor, _ = new_key(gateway, limit=1)
    with as_key(gateway, poor) as client:
        refused = client.post("/chat/completions", json={"model": MODEL, "messages": DRAW, **via("google-ai-studio")})
    assert refused.status_code == 402 and refused.json()["error"]["code"] == 402
    assert fake_upstream.requests == []


def test_models_lists_the_image_output_price(http: httpx.Client) -> None:
    listed = {m["id"]: m for m in http.get("/models", params={"output_modalities": "image"}).json()["data"]}
    model = listed[MODEL]
    assert model["architecture"]["output_modalities"] == ["image", "text"]
    assert model["pricing"]["image_output"] == "0.00006" and model["pricing"]["completion"] == "0.000003"
    assert "openai/gpt-4o" not in listed  # text models cannot draw


def test_the_retired_id_draws_with_its_replacement(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(gemini_answer()), path=GEMINI_PATH)
    response = http.post("/chat/completions", json={"model": "google/gemini-2.5-flash-image", "messages": DRAW,
                                                    **via("google-ai-studio")})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == MODEL and [r.path for r in fake_upstream.requests] == [GEMINI_PATH]
