"""OpenRouter's `provider` preferences as its schema allows them: names by slug or display name in any case,
every field nullable, `sort` as a name (exacto too) or `{by, partition}`, and content no model can take."""

from __future__ import annotations

import random
from typing import Any

import pytest

from lambdarouter.core.budget import measure
from lambdarouter.core.catalog import Catalog, build_catalog
from lambdarouter.core.catalog.spec import CatalogFile
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.health import HealthBoard, endpoint_key
from lambdarouter.core.routing import plan, requested_models
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical

PARAMS = ["max_tokens", "temperature", "tools", "tool_choice", "response_format", "structured_outputs"]


def catalog() -> Catalog:
    def endpoint(host: str, price: str, **extra: Any) -> dict[str, Any]:
        return {"host": host, "upstream_id": f"m-{host}", "context_length": 8000, "prompt": price,
                "completion": price, "supported_parameters": PARAMS, **extra}

    hosts = [{"name": slug, "display_name": display, "base_url_env": f"{slug.upper()}_URL",
              "api_key_env": f"{slug.upper()}_KEY", "data_collection": slug == "cheap"}
             for slug, display in (("cheap", "Cheap Cloud"), ("mid", "Mid Inc"), ("dear", "Dear AI"))]
    return build_catalog([CatalogFile.model_validate({"hosts": hosts, "models": [
        {"id": "a/model", "name": "A", "created": 1, "input_modalities": ["text", "image", "audio"], "endpoints": [
            endpoint("dear", "0.00003", quantization="fp16"), endpoint("cheap", "0.000001", quantization="fp8"),
            endpoint("mid", "0.00001")]},
        {"id": "b/model", "name": "B", "created": 1, "endpoints": [endpoint("mid", "0.000005")]},
    ]})])


class Env:
    def get(self, name: str) -> str | None:
        return f"value-of-{name}"


CATALOG = catalog()


def refused(body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as raised:
        hosts(body)
    return raised.value


def hosts(body: dict[str, Any], health: HealthBoard | None = None) -> list[str]:
    request = ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": "hi"}], **body})
    conversation = to_canonical(request)
    candidates = plan(conversation, requested_models(request.model, request.models), request.provider,
                      measure(conversation), CATALOG, Env(), health, random.Random(0))
    return [f"{c.model.id[0]}:{c.endpoint.host}" for c in candidates]


@pytest.mark.parametrize("name", ["mid", "MID", "Mid Inc", "mid inc"])
def test_only_order_and_ignore_take_a_slug_or_a_display_name_in_any_case(name: str) -> None:
    assert hosts({"model": "a/model", "provider": {"only": [name]}}) == ["a:mid"]
    assert hosts({"model": "a/model", "provider": {"order": [name, "Dear AI"]}})[:2] == ["a:mid", "a:dear"]
    assert "a:mid" not in hosts({"model": "a/model", "provider": {"ignore": [name]}})


def test_null_preferences_mean_their_defaults() -> None:
    nulls = {"allow_fallbacks": None, "require_parameters": None, "data_collection": None, "order": None,
             "only": None, "ignore": None, "sort": None, "zdr": None, "quantizations": None, "max_price": None,
             "enforce_distillable_text": None, "preferred_min_throughput": None, "preferred_max_latency": None}
    assert sorted(hosts({"model": "a/model", "provider": nulls})) == ["a:cheap", "a:dear", "a:mid"]
    assert len(hosts({"model": "a/model", "provider": {"order": ["mid"], "allow_fallbacks": None}})) == 3


def test_sort_by_name_or_object_and_partition_none_sorts_across_models() -> None:
    assert hosts({"model": "a/model", "provider": {"sort": "price"}}) == ["a:cheap", "a:mid", "a:dear"]
    assert hosts({"model": "a/model", "provider": {"sort": {"by": "price"}}}) == ["a:cheap", "a:mid", "a:dear"]
    fallback = {"model": "a/model", "models": ["b/model"]}
    assert hosts({**fallback, "provider": {"sort": {"by": "price", "partition": "model"}}}) == [
        "a:cheap", "a:mid", "a:dear", "b:mid"]
    assert hosts({**fallback, "provider": {"sort": {"by": "price", "partition": "none"}}}) == [
        "a:cheap", "b:mid", "a:mid", "a:dear"]


def test_exacto_puts_endpoints_that_failed_recently_last_then_sorts_by_price() -> None:
    health = HealthBoard()
    health.record_failure(endpoint_key("cheap", "m-cheap"))
    assert hosts({"model": "a/model", "provider": {"sort": "exacto"}}, health) == ["a:mid", "a:dear", "a:cheap"]


def test_zdr_and_quantizations_filter_endpoints() -> None:
    assert "a:cheap" not in hosts({"model": "a/model", "provider": {"zdr": True}})
    assert hosts({"model": "a/model", "provider": {"quantizations": ["fp8"]}}) == ["a:cheap"]
    error = refused({"model": "a/model", "provider": {"quantizations": ["int4"]}})
    assert error.status == 404 and "a/model via mid quantization unknown is not in provider.quantizations" in (
        error.message)


def test_content_no_requested_model_takes_is_a_400_naming_the_part_and_the_models() -> None:
    video = {"role": "user", "content": [{"type": "text", "text": "what happens?"},
                                         {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}}]}
    error = refused({"model": "a/model", "messages": [video]})
    assert error.status == 400 and error.metadata["param"] == "messages[0].content[1]"
    assert error.message == ("messages[0].content[1] (video_url) is video input, which no requested model takes "
                             "(a/model takes text, image, audio).")
    audio = {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}]}
    error = refused({"model": "b/model", "messages": [audio]})
    assert error.status == 400 and "(input_audio) is audio input" in error.message and "b/model takes text" in (
        error.message)
    # A fallback list: only the models that take it are tried.
    assert hosts({"model": "b/model", "models": ["a/model"], "messages": [audio],
                  "provider": {"sort": "price"}}) == ["a:cheap", "a:mid", "a:dear"]
