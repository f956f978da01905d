"""OpenRouter's own Python SDK (`openrouter`, generated from OpenRouter's OpenAPI document; it validates every
answer with pydantic) against a real `lambdarouter serve`: chat, streams, tool calls over two turns,
structured output, usage with cost, `models` fallback, typed errors, the catalog, keys, generations, credits,
embeddings and images. Each chat scenario runs on every upstream wire format.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from openrouter import OpenRouter, errors
from openrouter.utils.eventstreaming import EventStream

from tests.accounting import new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, RunningGateway
from tests.wire_formats import WIRE_FORMATS, ToolCall

WEATHER: dict[str, Any] = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CALL = ToolCall("call_paris_1", "get_weather", {"city": "Paris"})
ASK = [{"role": "user", "content": "Weather in Paris?"}]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@contextmanager
def openrouter(gateway: RunningGateway, key: str) -> Iterator[Any]:
    """The SDK pointed at the gateway. Typed `Any`: its generated signatures take its own message classes and
    TypedDicts, while these scenarios pass plain dicts, as its README does."""
    with OpenRouter(api_key=key, server_url=gateway.url) as client:
        yield client


@pytest.fixture
def sdk(gateway: RunningGateway, fake_upstream: FakeUpstream) -> Iterator[Any]:
    with openrouter(gateway, gateway.key) as client:
        yield client


@pytest.fixture
def management(gateway: RunningGateway) -> Iterator[Any]:
    with openrouter(gateway, ADMIN_KEY) as client:
        yield client


@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_chat_with_usage_and_cost(wire: str, sdk: Any, fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.text(["Bonjour ", "Paris"], False), path=form.whole_path)
    result = sdk.chat.send(messages=ASK, **form.pinned())
    assert result.choices[0].message.content == "Bonjour Paris"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None and result.usage.prompt_tokens == 11 and result.usage.completion_tokens == 7
    assert result.usage.cost is not None and result.usage.cost > 0


@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_stream(wire: str, sdk: Any, fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.text(["Bonjour ", "Paris"], True), path=form.stream_path)
    chunks = list(sdk.chat.send(messages=ASK, stream=True, **form.pinned()))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Bonjour Paris"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and usage.cost is not None and usage.cost > 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_tool_call_over_two_turns(wire: str, stream: bool, sdk: Any, fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.tool_call(CALL, stream), path=form.path(stream))
    fake_upstream.reply(form.text(["Sunny, 21 °C."], stream), path=form.path(stream))
    first = sdk.chat.send(messages=ASK, tools=[WEATHER], stream=stream, **form.pinned())
    if stream:
        chunks = list(first)
        calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
        call_id = next(call.id for call in calls if call.id)
        arguments = "".join(call.function.arguments or "" for call in calls if call.function)
        name = next(call.function.name for call in calls if call.function and call.function.name)
    else:
        [call] = first.choices[0].message.tool_calls or []
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
        assert first.choices[0].finish_reason == "tool_calls"
    assert (name, json.loads(arguments)) == (CALL.name, CALL.arguments)
    history = [*ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": '{"sky": "sunny", "celsius": 21}'}]
    second = sdk.chat.send(messages=history, tools=[WEATHER], stream=stream, **form.pinned())
    text = ("".join(c.choices[0].delta.content or "" for c in second if c.choices) if stream
            else second.choices[0].message.content)
    assert text == "Sunny, 21 °C."
    sent = json.dumps(fake_upstream.requests[-1].json(), ensure_ascii=False)
    assert "sunny" in sent  # the tool result reached the provider, in its own format


@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_structured_output(wire: str, sdk: Any, fake_upstream: FakeUpstream) -> None:
    form = WIRE_FORMATS[wire]
    fake_upstream.reply(form.text(['{"city": "Paris", ', '"celsius": 21}'], False), path=form.whole_path)
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
              "required": ["city", "celsius"], "additionalProperties": False}
    result = sdk.chat.send(messages=ASK, response_format={
        "type": "json_schema", "json_schema": {"name": "weather", "strict": True, "schema": schema}}, **form.pinned())
    assert json.loads(result.choices[0].message.content) == {"city": "Paris", "celsius": 21}


def test_models_fallback(sdk: Any, fake_upstream: FakeUpstream) -> None:
    anthropic, openai = WIRE_FORMATS["anthropic"], WIRE_FORMATS["openai"]
    fake_upstream.reply(Reply.json({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                                   status=529), path=anthropic.whole_path)
    fake_upstream.reply(openai.text(["from the fallback"], False), path=openai.whole_path)
    result = sdk.chat.send(messages=ASK, model=anthropic.model, models=[openai.model],
                           provider={"only": ["anthropic", "openai"]})
    assert result.choices[0].message.content == "from the fallback"
    assert result.model == openai.model


def test_typed_errors(gateway: RunningGateway, sdk: Any) -> None:
    with openrouter(gateway, "sk-lr-v1-not-a-key") as stranger, \
            pytest.raises(errors.UnauthorizedResponseError) as unauthorized:
        stranger.chat.send(messages=ASK, model="openai/gpt-4o")
    assert unauthorized.value.data.error.code == 401
    with pytest.raises(errors.BadRequestResponseError) as bad:
        sdk.chat.send(messages=ASK, model="nobody/no-such-model")
    assert bad.value.data.error.code == 400
    broke, _ = new_key(gateway, limit=0)
    with openrouter(gateway, broke) as poor, \
            pytest.raises(errors.PaymentRequiredResponseError) as unpaid:
        poor.chat.send(messages=ASK, model="openai/gpt-4o")
    assert unpaid.value.data.error.code == 402


def test_catalog(sdk: Any) -> None:
    listed = sdk.models.list().result
    assert listed.data and listed.total_count == len(listed.data)
    assert all(isinstance(model.pricing.prompt, str) for model in listed.data)
    assert sdk.models.count().data.count == len(listed.data)
    one = sdk.models.get(author="anthropic", slug="claude-sonnet-4.5")
    assert one.data.id == "anthropic/claude-sonnet-4.5" and one.data.links.details.endswith("/endpoints")
    endpoints = sdk.endpoints.list(author="anthropic", slug="claude-sonnet-4.5")
    assert {e.tag for e in endpoints.data.endpoints} >= {"anthropic", "amazon-bedrock"}
    assert all(e.model_id == "anthropic/claude-sonnet-4.5" for e in endpoints.data.endpoints)
    assert {p.slug for p in sdk.providers.list().data} >= {"openai", "anthropic", "google-ai-studio"}
    with pytest.raises(errors.NotFoundResponseError):
        sdk.models.get(author="nobody", slug="nothing")


def test_key_generation_and_credits(gateway: RunningGateway, management: Any,
                                    fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=3, limit_reset="monthly")
    form = WIRE_FORMATS["gemini"]
    fake_upstream.reply(form.text(["ok"], True), path=form.stream_path)
    with openrouter(gateway, plaintext) as client:
        streamed = list(client.chat.send(messages=ASK, stream=True, **form.pinned()))
        [record] = wait_for_records(gateway, key_hash, 1)
        generation = client.generations.get_generation(id=record.id).data
        current = client.api_keys.get_current_key_metadata().data
    assert generation.id == streamed[0].id == record.id and generation.streamed is True
    assert generation.total_cost == pytest.approx(float(record.cost)) and generation.provider_name == "google-ai-studio"
    assert current.limit == 3 and current.usage == pytest.approx(float(record.cost))
    assert current.usage_monthly == pytest.approx(float(record.cost)) and current.limit_reset == "monthly"

    created = management.api_keys.create(name="sdk-made", limit=5)
    assert created.key.startswith("sk-lr-") and created.data.limit == 5
    assert created.data.hash in {k.hash for k in management.api_keys.list().data}
    updated = management.api_keys.update(hash=created.data.hash, disabled=True)
    assert updated.data.disabled is True
    assert management.api_keys.get(hash=created.data.hash).data.name == "sdk-made"
    assert management.api_keys.delete(hash=created.data.hash).DELETED is True
    credits = management.credits.get_credits().data
    assert credits.total_usage >= float(record.cost) and credits.total_credits >= 3


def test_embeddings(sdk: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"object": "list", "model": "text-embedding-3-small",
                                    "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
                                    "usage": {"prompt_tokens": 2, "total_tokens": 2}}), path="/v1/embeddings")
    result = sdk.embeddings.generate(model="openai/text-embedding-3-small", input="bonjour")
    assert not isinstance(result, str)
    assert result.data[0].embedding == [0.5, -0.25] and result.usage is not None and result.usage.cost


def test_images(sdk: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG}],
                                    "usage": {"input_tokens": 5, "output_tokens": 50, "total_tokens": 55}}),
                        path="/v1/images/generations")
    result = sdk.images.generate(model="openai/gpt-image-1", prompt="a red dot")
    assert not isinstance(result, EventStream)
    [image] = result.data
    assert base64.b64decode(image.b64_json) == base64.b64decode(PNG) and image.media_type == "image/png"
