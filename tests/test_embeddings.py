"""POST /embeddings through a real gateway: the official SDK against a fake upstream of each wire format.

The upstream bodies are synthesized from each provider's documented response format (no recordings):
OpenAI https://platform.openai.com/docs/api-reference/embeddings/object, Gemini
https://ai.google.dev/api/embeddings#method:-models.batchembedcontents, Bedrock Titan V2 and Cohere Embed
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html and
model-parameters-embed.html. Vector components are exact in float32, so base64 round trips compare equal.
"""

from __future__ import annotations

import base64
import struct
from decimal import Decimal
from typing import Any

import openai
import pytest

from lambdarouter.core.catalog import load_catalog
from tests.accounting import as_key, exact_json, key_record, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, RunningGateway

OPENAI_PATH = "/v1/embeddings"
GEMINI_PATH = "/v1beta/models/gemini-embedding-001:batchEmbedContents"
TITAN_PATH = "/model/amazon.titan-embed-text-v2:0/invoke"
COHERE_PATH = "/model/cohere.embed-english-v3/invoke"


def price(model: str) -> Decimal:
    return load_catalog(EXTRA_MODELS).resolve(model).model.endpoints[0].prompt


def openai_body(vectors: list[list[float]], tokens: int, reverse: bool = False) -> dict[str, Any]:
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return {"object": "list", "model": "text-embedding-3-small", "data": data[::-1] if reverse else data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def sdk(gateway: RunningGateway, plaintext: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url, api_key=plaintext, max_retries=0, timeout=15)


def test_openai_sdk_default_base64_in_order_with_ledger(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    # Listed out of order: the gateway orders by `index`.
    fake_upstream.reply(Reply.json(openai_body([[0.5, -0.25], [1.0, 2.0]], 7, reverse=True)), path=OPENAI_PATH)
    result = sdk(gateway, plaintext).embeddings.create(model="openai/text-embedding-3-small",
                                                       input=["a b c", "d"], dimensions=2)
    assert [d.embedding for d in result.data] == [[0.5, -0.25], [1.0, 2.0]]
    assert result.usage.prompt_tokens == 7 and result.usage.total_tokens == 7
    sent = fake_upstream.requests[0].json()
    assert sent["model"] == "text-embedding-3-small" and sent["input"] == ["a b c", "d"] and sent["dimensions"] == 2
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.status == "success" and record.provider == "openai" and record.anomaly is None
    assert record.prompt_tokens == 7 and record.cost == 7 * price("openai/text-embedding-3-small")
    assert record.model == "openai/text-embedding-3-small"


def test_float_format_cost_matches_ledger(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json(openai_body([[0.5]], 3)), path=OPENAI_PATH)
    with as_key(gateway, plaintext) as client:
        response = client.post("/embeddings", json={"model": "openai/text-embedding-3-large", "input": "hello",
                                                    "encoding_format": "float"})
    assert response.status_code == 200, response.text
    body = exact_json(response.text)
    assert body["data"][0]["embedding"] == [Decimal("0.5")] and body["provider"] == "OpenAI"
    [record] = wait_for_records(gateway, key_hash, 1)
    assert Decimal(body["usage"]["cost"]) == record.cost == 3 * price("openai/text-embedding-3-large")
    assert response.headers["x-generation-id"] == record.id


def test_base64_is_little_endian_float32(http: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(openai_body([[0.5, -1.5]], 1)), path=OPENAI_PATH)
    response = http.post("/embeddings", json={"model": "openai/text-embedding-3-small", "input": "x",
                                              "encoding_format": "base64"})
    assert response.status_code == 200, response.text
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -1.5)


def test_token_arrays_pass_through_to_openai(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(openai_body([[0.5], [0.25]], 4)), path=OPENAI_PATH)
    result = client.embeddings.create(model="openai/text-embedding-3-small", input=[[1, 2], [3, 4]])
    assert len(result.data) == 2
    assert fake_upstream.requests[0].json()["input"] == [[1, 2], [3, 4]]


def test_gemini_batch_embed_contents(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"embeddings": [{"values": [0.5, 0.5]}, {"values": [-0.5, 0.25]}]}),
                        path=GEMINI_PATH)
    result = sdk(gateway, plaintext).embeddings.create(model="google/gemini-embedding-001",
                                                       input=["first text", "second"], dimensions=2)
    assert [d.embedding for d in result.data] == [[0.5, 0.5], [-0.5, 0.25]]
    sent = fake_upstream.requests[0]
    assert sent.headers.get("x-goog-api-key")
    assert sent.json()["requests"] == [
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "first text"}]},
         "outputDimensionality": 2},
        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "second"}]},
         "outputDimensionality": 2}]
    [record] = wait_for_records(gateway, key_hash, 1)
    # batchEmbedContents reports no usage: estimated at 4 characters per token (16 chars -> 4 tokens).
    assert record.usage_estimated and record.prompt_tokens == 4
    assert record.cost == 4 * price("google/gemini-embedding-001") and record.provider == "google-ai-studio"


def test_bedrock_titan_one_input_per_call(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"embedding": [0.25, 0.75], "inputTextTokenCount": 3,
                                    "embeddingsByType": {"float": [0.25, 0.75]}}), path=TITAN_PATH, times=3)
    result = sdk(gateway, plaintext).embeddings.create(model="amazon/titan-embed-text-v2",
                                                       input=["one", "two", "three"], dimensions=256)
    assert [d.index for d in result.data] == [0, 1, 2] and result.usage.prompt_tokens == 9
    sent = [r.json() for r in fake_upstream.iter_requests(TITAN_PATH)]
    assert sorted(s["inputText"] for s in sent) == ["one", "three", "two"]
    assert all(s["dimensions"] == 256 for s in sent)
    assert all(r.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")
               for r in fake_upstream.iter_requests(TITAN_PATH))
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.prompt_tokens == 9 and record.cost == 9 * price("amazon/titan-embed-text-v2")


def test_bedrock_cohere_texts(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"id": "e1", "response_type": "embeddings_floats", "texts": ["a", "b"],
                                    "embeddings": [[0.5], [0.25]]}), path=COHERE_PATH)
    result = client.embeddings.create(model="cohere/embed-english-v3", input=["a", "b"])
    assert [d.embedding for d in result.data] == [[0.5], [0.25]]
    assert fake_upstream.requests[0].json() == {"texts": ["a", "b"], "input_type": "search_document"}


@pytest.mark.parametrize(("body", "says"), [
    ({"model": "openai/text-embedding-3-small", "input": ""}, "empty"),
    ({"model": "openai/text-embedding-3-small", "input": []}, "empty"),
    ({"model": "openai/text-embedding-3-small", "input": ["ok", ""]}, "empty"),
    ({"model": "cohere/embed-english-v3", "input": "hi", "dimensions": 256}, "dimensions"),
    ({"model": "google/gemini-embedding-001", "input": [1, 2, 3]}, "Token-array"),
    ({"model": "openai/text-embedding-3-small", "input": "hi", "encoding_format": "int8"}, "encoding_format"),
])
def test_bad_input_is_400(http: Any, fake_upstream: FakeUpstream, body: dict[str, Any], says: str) -> None:
    response = http.post("/embeddings", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_chat_model_is_not_an_embedding_model(http: Any, fake_upstream: FakeUpstream) -> None:
    response = http.post("/embeddings", json={"model": "openai/gpt-4o", "input": "hi"})
    assert response.status_code == 404 and "does not output embeddings" in response.json()["error"]["message"]


def test_budget_402_and_rate_limit_429(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    poor, _ = new_key(gateway, limit=0.000001)
    with as_key(gateway, poor) as client:
        refused = client.post("/embeddings", json={"model": "openai/text-embedding-3-large", "input": "x" * 3000})
    assert refused.status_code == 402 and refused.json()["error"]["code"] == 402
    limited, key_hash = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
    fake_upstream.reply(Reply.json(openai_body([[0.5]], 1)), path=OPENAI_PATH)
    with as_key(gateway, limited) as client:
        first = client.post("/embeddings", json={"model": "openai/text-embedding-3-small", "input": "x"})
        second = client.post("/embeddings", json={"model": "openai/text-embedding-3-small", "input": "x"})
    assert first.status_code == 200 and second.status_code == 429
    assert len(fake_upstream.requests) == 1
    assert len(wait_for_records(gateway, key_hash, 1)) == 1


def test_upstream_error_fails_over_and_is_recorded(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=1)
    fake_upstream.reply(Reply.json({"error": {"message": "overloaded"}}, status=503), path=OPENAI_PATH)
    with as_key(gateway, plaintext) as client:
        response = client.post("/embeddings", json={"model": "openai/text-embedding-3-small", "input": "x"})
    assert response.status_code == 502 and response.json()["error"]["metadata"]["provider_name"] == "openai"
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.status == "error" and record.cost == 0
    assert key_record(gateway, key_hash).usage == 0
