"""Every answer of every operation OpenRouter also has, validated against OpenRouter's own OpenAPI document
(tests/openrouter_api/openapi.yaml): chat for each of the four upstream wire formats, streamed (every chunk, the
mid-stream error chunk included) and not, and the catalog, key, generation, credit, embedding and image routes.

Beyond the schema, the rules typed clients depend on (OpenRouter's SDKs reject what breaks them): optional
arrays are absent or arrays, never null; required-but-nullable fields are present; prices are strings.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lambdarouter.dialects.openrouter.assemble import error_type
from tests.accounting import admin, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.openai_chunks import sse_chunks
from tests.openrouter_contract import validate_answer, validate_chunk
from tests.wire_formats import WIRE_FORMATS, ToolCall

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
CALL = ToolCall("call_weather_1", "get_weather", {"city": "Zürich"})
ASK = [{"role": "user", "content": "Weather in Zürich?"}]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def arrays_never_null(value: Any, where: str = "") -> Iterator[str]:
    """Paths of fields that are null where OpenRouter's SDKs expect an array (or leave the field out)."""
    array_fields = {"tool_calls", "images", "reasoning_details", "annotations", "choices", "data", "endpoints",
                    "supported_parameters", "input_modalities", "output_modalities", "provider_responses"}
    if isinstance(value, dict):
        for name, item in value.items():
            if item is None and name in array_fields:
                yield f"{where}.{name}"
            yield from arrays_never_null(item, f"{where}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from arrays_never_null(item, f"{where}[{index}]")


def check_chat(body: dict[str, Any]) -> None:
    validate_answer("/chat/completions", "post", body)
    assert list(arrays_never_null(body)) == []


def check_chunks(text: str) -> list[dict[str, Any]]:
    chunks = sse_chunks(text)
    assert chunks and text.rstrip().endswith("data: [DONE]")
    for chunk in chunks:
        validate_chunk("/chat/completions", chunk)
        assert list(arrays_never_null(chunk)) == [], chunk
        for choice in chunk["choices"]:
            assert "finish_reason" in choice, chunk  # required (nullable) by OpenRouter's SDKs
    return chunks


# --- chat, every wire format ------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_chat_text_answers_match_the_schema(wire: str, stream: bool, http: httpx.Client,
                                            fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.text(["Grüezi ", "mitenand"], stream), path=form.path(stream))
    response = http.post("/chat/completions", json={**form.pinned(), "messages": ASK, "stream": stream})
    assert response.status_code == 200, response.text
    if not stream:
        body = response.json()
        check_chat(body)
        assert body["choices"][0]["message"]["content"] == "Grüezi mitenand"
        return
    chunks = check_chunks(response.text)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "Grüezi mitenand"
    assert chunks[-1]["usage"]["cost"] > 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_chat_tool_calls_match_the_schema(wire: str, stream: bool, http: httpx.Client,
                                          fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.tool_call(CALL, stream), path=form.path(stream))
    response = http.post("/chat/completions", json={**form.pinned(), "messages": ASK, "tools": [WEATHER],
                                                    "stream": stream})
    assert response.status_code == 200, response.text
    if not stream:
        body = response.json()
        check_chat(body)
        [call] = body["choices"][0]["message"]["tool_calls"]
        assert json.loads(call["function"]["arguments"]) == CALL.arguments
        assert body["choices"][0]["finish_reason"] == "tool_calls"
        return
    chunks = check_chunks(response.text)
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_the_mid_stream_error_chunk_matches_the_schema(wire: str, http: httpx.Client,
                                                       fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.error_after_text("Half an ans"), path=form.stream_path)
    response = http.post("/chat/completions", json={**form.pinned(), "messages": ASK, "stream": True})
    assert response.status_code == 200
    chunks = check_chunks(response.text)
    [failed] = [c for c in chunks if c.get("error")]
    assert failed["error"]["metadata"]["error_type"] == error_type(failed["error"]["code"])
    assert failed["choices"][0]["finish_reason"] == "error"


@pytest.mark.parametrize(("status", "headers", "body"), [
    ("401", {"authorization": "Bearer sk-lr-v1-not-a-key"}, {"model": "openai/gpt-4o", "messages": ASK}),
    ("400", {}, {"model": "openai/gpt-4o", "messages": []}),
    ("400", {}, {"model": "nobody/no-such-model", "messages": ASK}),
])
def test_chat_errors_match_the_schema(status: str, headers: dict[str, str], body: dict[str, Any],
                                      http: httpx.Client) -> None:
    response = http.post("/chat/completions", json=body, headers=headers)
    assert str(response.status_code) == status, response.text
    validate_answer("/chat/completions", "post", response.json(), status)


def test_out_of_credit_402_matches_the_schema(gateway: RunningGateway) -> None:
    plaintext, _ = new_key(gateway, limit=0)
    response = httpx.post(f"{gateway.url}/chat/completions", headers={"authorization": f"Bearer {plaintext}"},
                          json={"model": "openai/gpt-4o", "messages": ASK}, timeout=15)
    assert response.status_code == 402, response.text
    validate_answer("/chat/completions", "post", response.json(), "402")


# --- generation records, of every wire format -------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_generation_matches_the_schema(wire: str, stream: bool, gateway: RunningGateway,
                                       fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.text(["fine"], stream), path=form.path(stream))
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {plaintext}"}, timeout=15) as http:
        answer = http.post("/chat/completions", json={**form.pinned(), "messages": ASK, "stream": stream})
        assert answer.status_code == 200, answer.text
        [record] = wait_for_records(gateway, key_hash, 1)
        response = http.get("/generation", params={"id": record.id})
    assert response.status_code == 200, response.text
    validate_answer("/generation", "get", response.json())
    data = response.json()["data"]
    assert data["id"] == record.id and data["streamed"] is stream and data["provider_name"]
    assert list(arrays_never_null(data)) == []


def test_generation_errors_match_the_schema(http: httpx.Client) -> None:
    response = http.get("/generation", params={"id": "gen-no-such-generation"})
    assert response.status_code == 404
    validate_answer("/generation", "get", response.json(), "404")


# --- catalog --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [{}, {"output_modalities": "all"}, {"output_modalities": "image"}])
def test_models_match_the_schema(query: dict[str, str], http: httpx.Client) -> None:
    response = http.get("/models", params=query)
    assert response.status_code == 200
    body = response.json()
    validate_answer("/models", "get", body)
    assert body["data"] and list(arrays_never_null(body)) == []
    for model in body["data"]:
        assert all(isinstance(price, str) for price in model["pricing"].values()), model["id"]


def test_models_count_matches_the_schema(http: httpx.Client) -> None:
    listed = http.get("/models", params={"output_modalities": "all"}).json()
    response = http.get("/models/count", params={"output_modalities": "all"})
    assert response.status_code == 200, response.text
    validate_answer("/models/count", "get", response.json())
    assert response.json()["data"]["count"] == len(listed["data"]) == listed["total_count"]


@pytest.mark.parametrize("model", ["openai/gpt-4o", "anthropic/claude-3-opus", "google/gemini-2.5-flash"])
def test_one_model_matches_the_schema(model: str, http: httpx.Client) -> None:
    response = http.get(f"/model/{model}")
    assert response.status_code == 200, response.text
    validate_answer("/model/{author}/{slug}", "get", response.json())
    assert response.json()["data"]["id"] == model
    # The `openai` SDK's models.retrieve: GET /models/{id}, OpenAI's Model object plus OpenRouter's fields.
    listed = http.get(f"/models/{model}")
    assert listed.status_code == 200, listed.text
    assert listed.json()["id"] == model and listed.json()["object"] == "model"


def test_an_unknown_model_is_a_404_matching_the_schema(http: httpx.Client) -> None:
    for path in ("/model/nobody/nothing", "/models/nobody/nothing/endpoints"):
        response = http.get(path)
        assert response.status_code == 404, path
        validate_answer(path.replace("nobody/nothing", "{author}/{slug}"), "get", response.json(), "404")


@pytest.mark.parametrize("model", ["openai/gpt-4o", "anthropic/claude-sonnet-4", "meta-llama/llama-3.3-70b-instruct"])
def test_endpoints_match_the_schema(model: str, http: httpx.Client) -> None:
    response = http.get(f"/models/{model}/endpoints")
    assert response.status_code == 200, response.text
    validate_answer("/models/{author}/{slug}/endpoints", "get", response.json())
    assert list(arrays_never_null(response.json())) == []


def test_providers_match_the_schema(http: httpx.Client) -> None:
    response = http.get("/providers")
    assert response.status_code == 200, response.text
    validate_answer("/providers", "get", response.json())
    slugs = {p["slug"] for p in response.json()["data"]}
    assert {"openai", "anthropic", "google-ai-studio", "amazon-bedrock"} <= slugs


# --- keys and credits -----------------------------------------------------------------------------------

def test_current_key_matches_the_schema(http: httpx.Client) -> None:
    response = http.get("/key")
    assert response.status_code == 200, response.text
    validate_answer("/key", "get", response.json())


def test_current_key_401_matches_the_schema(gateway: RunningGateway) -> None:
    response = httpx.get(f"{gateway.url}/key", headers={"authorization": "Bearer sk-lr-v1-nope"}, timeout=15)
    assert response.status_code == 401
    validate_answer("/key", "get", response.json(), "401")


def test_key_management_matches_the_schema(gateway: RunningGateway) -> None:
    with admin(gateway) as client:
        created = client.post("/keys", json={"name": "schema", "limit": 5, "limit_reset": "monthly"})
        assert created.status_code == 201, created.text
        validate_answer("/keys", "post", created.json(), "201")
        key_hash = created.json()["data"]["hash"]
        listed = client.get("/keys")
        validate_answer("/keys", "get", listed.json())
        one = client.get(f"/keys/{key_hash}")
        validate_answer("/keys/{hash}", "get", one.json())
        patched = client.patch(f"/keys/{key_hash}", json={"limit": 7, "disabled": True})
        assert patched.status_code == 200, patched.text
        validate_answer("/keys/{hash}", "patch", patched.json())
        deleted = client.delete(f"/keys/{key_hash}")
        validate_answer("/keys/{hash}", "delete", deleted.json())
        missing = client.get(f"/keys/{key_hash}")
        assert missing.status_code == 404
        validate_answer("/keys/{hash}", "get", missing.json(), "404")
        credits = client.get("/credits")
        assert credits.status_code == 200
        validate_answer("/credits", "get", credits.json())


# --- embeddings and images ------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "path", "upstream"), [
    ("openai/text-embedding-3-small", "/v1/embeddings",
     {"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 2, "total_tokens": 2},
      "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}]}),
    ("google/gemini-embedding-001", "/v1beta/models/gemini-embedding-001:batchEmbedContents",
     {"embeddings": [{"values": [0.5, 0.5]}]}),
    ("amazon/titan-embed-text-v2", "/model/amazon.titan-embed-text-v2:0/invoke",
     {"embedding": [0.25, 0.75], "inputTextTokenCount": 3}),
])
def test_embeddings_match_the_schema(model: str, path: str, upstream: dict[str, Any], http: httpx.Client,
                                     fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(upstream), path=path)
    response = http.post("/embeddings", json={"model": model, "input": "grüezi"})
    assert response.status_code == 200, response.text
    validate_answer("/embeddings", "post", response.json())


def test_images_match_the_schema(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode()}],
                                    "usage": {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110,
                                              "input_tokens_details": {"text_tokens": 10, "image_tokens": 0}}}),
                        path="/v1/images/generations")
    response = http.post("/images", json={"model": "openai/gpt-image-1", "prompt": "a red dot"})
    assert response.status_code == 200, response.text
    validate_answer("/images", "post", response.json())


def test_keys_report_each_keys_spend_in_the_current_periods(gateway: RunningGateway,
                                                            fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5, limit_reset="daily")
    form = WIRE_FORMATS["openai"]
    fake_upstream.reply(form.text(["fine"], False), path=form.whole_path)
    answer = httpx.post(f"{gateway.url}/chat/completions", headers={"authorization": f"Bearer {plaintext}"},
                        json={**form.pinned(), "messages": ASK}, timeout=15)
    assert answer.status_code == 200, answer.text
    [record] = wait_for_records(gateway, key_hash, 1)
    with admin(gateway) as client:
        # The session's gateway holds every test's keys: the list is read page by page (100 a page) to this one.
        pages = (client.get("/keys", params={"offset": offset}).json()["data"] for offset in range(0, 10_000, 100))
        listed = next(k for page in pages for k in page if k["hash"] == key_hash)
        one = client.get(f"/keys/{key_hash}").json()["data"]
    for shown in (listed, one):
        assert shown["usage_daily"] == shown["usage_weekly"] == shown["usage_monthly"] == pytest.approx(
            float(record.cost))
        assert shown["byok_usage"] == 0 and shown["workspace_id"] == "default"


@pytest.mark.parametrize("body", [
    {"model": "openai/gpt-image-1", "prompt": "x", "size": "2K"},  # a tier: no image adapter here takes one
    {"model": "openai/gpt-image-1", "prompt": "x", "output_format": "svg"},
    {"model": "openai/gpt-image-1"},
    {"model": "openai/gpt-image-1", "prompt": "x", "n": 11},
])
def test_bad_image_requests_are_400s_matching_the_schema(body: dict[str, Any], http: httpx.Client,
                                                         fake_upstream: FakeUpstream) -> None:
    response = http.post("/images", json=body)
    assert response.status_code == 400, response.text
    validate_answer("/images", "post", response.json(), "400")
    assert fake_upstream.requests == []
