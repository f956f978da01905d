"""POST /images/generations through a real gateway: the official SDK against a fake upstream of each format.

The upstream bodies are synthesized from each provider's documented response shape (no recordings):
OpenAI https://platform.openai.com/docs/api-reference/images/object, Gemini Imagen
https://ai.google.dev/gemini-api/docs/imagen (`predictions[].bytesBase64Encoded`), Nova Canvas
https://docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html (`images[]`).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import openai
import pytest

from lambdarouter.core.catalog import load_catalog
from tests.accounting import as_key, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, RunningGateway

OPENAI_PATH = "/v1/images/generations"
IMAGEN_PATH = "/v1beta/models/imagen-4.0-generate-001:predict"
NOVA_PATH = "/model/amazon.nova-canvas-v1:0/invoke"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def per_image(model: str) -> Decimal:
    return load_catalog(EXTRA_MODELS).resolve(model).model.endpoints[0].image


def sdk(gateway: RunningGateway, plaintext: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url, api_key=plaintext, max_retries=0, timeout=15)


def test_openai_gpt_image_b64_with_ledger(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG}, {"b64_json": PNG}]}), path=OPENAI_PATH)
    result = sdk(gateway, plaintext).images.generate(model="openai/gpt-image-1", prompt="a red fox", n=2,
                                                     size="1024x1024", quality="medium", response_format="b64_json")
    assert [d.b64_json for d in result.data or []] == [PNG, PNG]
    sent = fake_upstream.requests[0]
    assert sent.headers.get("authorization", "").startswith("Bearer ")
    # GPT Image refuses `response_format`: never forwarded.
    assert sent.json() == {"model": "gpt-image-1", "prompt": "a red fox", "n": 2, "size": "1024x1024",
                           "quality": "medium"}
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.status == "success" and record.provider == "openai" and record.model == "openai/gpt-image-1"
    assert record.cost == 2 * per_image("openai/gpt-image-1")


def test_default_url_is_a_data_url(http: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG, "revised_prompt": "a fox, red"}]}),
                        path=OPENAI_PATH)
    response = http.post("/images/generations", json={"model": "openai/dall-e-3", "prompt": "a fox",
                                                      "quality": "hd", "style": "natural"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == [{"url": f"data:image/png;base64,{PNG}", "revised_prompt": "a fox, red"}]
    assert body["usage"] == {"images": 1, "cost": float(per_image("openai/dall-e-3"))}
    assert fake_upstream.requests[0].json()["response_format"] == "b64_json"


def test_gemini_imagen_predict(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"predictions": [{"bytesBase64Encoded": PNG, "mimeType": "image/png"}] * 3}),
                        path=IMAGEN_PATH)
    result = sdk(gateway, plaintext).images.generate(model="google/imagen-4", prompt="a lighthouse", n=3,
                                                     size="1408x768")
    assert [d.url for d in result.data or []] == [f"data:image/png;base64,{PNG}"] * 3
    sent = fake_upstream.requests[0]
    assert sent.headers.get("x-goog-api-key")
    assert sent.json() == {"instances": [{"prompt": "a lighthouse"}],
                           "parameters": {"sampleCount": 3, "aspectRatio": "16:9"}}
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == 3 * per_image("google/imagen-4") and record.provider == "google-ai-studio"


def test_bedrock_nova_canvas(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"images": [PNG], "error": None}), path=NOVA_PATH)
    result = sdk(gateway, plaintext).images.generate(model="amazon/nova-canvas", prompt="a bridge", size="1280x720",
                                                     response_format="b64_json",
                                                     extra_body={"quality": "premium"})  # Nova's own quality
    assert [d.b64_json for d in result.data or []] == [PNG]
    sent = fake_upstream.requests[0]
    assert sent.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")
    assert sent.json() == {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a bridge"},
                           "imageGenerationConfig": {"numberOfImages": 1, "width": 1280, "height": 720,
                                                     "quality": "premium"}}
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == per_image("amazon/nova-canvas") and record.provider == "amazon-bedrock"


@pytest.mark.parametrize(("body", "says"), [
    ({"model": "openai/gpt-image-1", "prompt": "  "}, "prompt"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "size": "big"}, "size"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "size": "512x512"}, "does not make size 512x512"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "n": 11}, "n"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "n": 0}, "n"),
    ({"model": "openai/dall-e-3", "prompt": "x", "n": 2}, "at most 1 image"),
    ({"model": "openai/gpt-image-1", "prompt": "x", "style": "vivid"}, "does not support `style`"),
    ({"model": "google/imagen-4", "prompt": "x", "size": "1000x700"}, "aspect ratios"),
    ({"model": "google/imagen-4", "prompt": "x", "quality": "hd"}, "does not support `quality`"),
    ({"model": "amazon/nova-canvas", "prompt": "x", "size": "1000x1000"}, "divisible by 16"),
    ({"model": "amazon/nova-canvas", "prompt": "x", "quality": "hd"}, "quality 'hd'"),
    ({"model": "amazon/nova-canvas", "prompt": "x", "n": 6}, "at most 5 images"),
])
def test_bad_request_is_400(http: Any, fake_upstream: FakeUpstream, body: dict[str, Any], says: str) -> None:
    response = http.post("/images/generations", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_chat_model_does_not_make_images(http: Any, fake_upstream: FakeUpstream) -> None:
    response = http.post("/images/generations", json={"model": "openai/gpt-4o", "prompt": "x"})
    assert response.status_code == 404 and "does not output image" in response.json()["error"]["message"]


def test_budget_402_before_the_upstream(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    poor, _ = new_key(gateway, limit=0.05)  # one image fits, two do not
    with as_key(gateway, poor) as client:
        refused = client.post("/images/generations", json={"model": "openai/gpt-image-1", "prompt": "x", "n": 2})
    assert refused.status_code == 402 and refused.json()["error"]["code"] == 402
    assert fake_upstream.requests == []


def test_upstream_error_is_recorded_and_not_charged(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"error": {"message": "overloaded"}}, status=503), path=OPENAI_PATH)
    with as_key(gateway, plaintext) as client:
        response = client.post("/images/generations", json={"model": "openai/gpt-image-1", "prompt": "x"})
    assert response.status_code == 502 and response.json()["error"]["metadata"]["provider_name"] == "openai"
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.status == "error" and record.cost == 0


# -- /models?output_modalities= (OpenRouter: text-output models by default, `all` or a comma list) --------


def ids(http: Any, query: str = "") -> set[str]:
    response = http.get(f"/models{query}")
    assert response.status_code == 200, response.text
    return {m["id"] for m in response.json()["data"]}


def test_models_list_text_models_by_default(http: Any) -> None:
    default = ids(http)
    assert "openai/gpt-4o" in default and "anthropic/claude-3-opus" in default  # aliases of text models too
    assert "openai/gpt-image-1" not in default and "openai/text-embedding-3-small" not in default


def test_models_filter_by_output_modality(http: Any) -> None:
    images = ids(http, "?output_modalities=image")
    assert {"openai/gpt-image-1", "openai/dall-e-3", "google/imagen-4", "amazon/nova-canvas"} <= images
    assert "openai/gpt-4o" not in images and "openai/text-embedding-3-small" not in images
    both = ids(http, "?output_modalities=embeddings,image")
    assert images | {"openai/text-embedding-3-small"} <= both and "openai/gpt-4o" not in both
    every = ids(http, "?output_modalities=all")
    assert ids(http) | both <= every
    listed = http.get("/models?output_modalities=image").json()["data"]
    nova = next(m for m in listed if m["id"] == "amazon/nova-canvas")
    assert nova["architecture"]["output_modalities"] == ["image"] and nova["pricing"]["image"] == "0.04"


def test_models_unknown_output_modality_is_400(http: Any) -> None:
    response = http.get("/models?output_modalities=smell")
    assert response.status_code == 400 and "smell" in response.json()["error"]["message"]


# -- chat refuses models that cannot output text --------------------------------------------------------------


@pytest.mark.parametrize(("model", "route"), [("openai/gpt-image-1", "/images/generations"),
                                              ("openai/text-embedding-3-small", "/embeddings")])
def test_chat_refuses_models_without_text_output(http: Any, fake_upstream: FakeUpstream, model: str,
                                                 route: str) -> None:
    response = http.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 404, response.text
    message = response.json()["error"]["message"]
    assert "does not output text" in message and route in message
    assert fake_upstream.requests == []
