"""Routing as OpenRouter documents it: filters say what they removed, and each preference changes the order."""

from __future__ import annotations

import random
from collections import Counter
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

ALL_PARAMS = ["max_tokens", "temperature", "tools", "tool_choice", "response_format", "structured_outputs", "seed"]


def catalog() -> Catalog:
    def endpoint(host: str, price: str, **extra: Any) -> dict[str, Any]:
        return {"host": host, "upstream_id": f"m-{host}", "context_length": 8000, "prompt": price,
                "completion": price, "supported_parameters": ALL_PARAMS, **extra}

    hosts = [{"name": n, "base_url_env": f"{n.upper()}_URL", "api_key_env": f"{n.upper()}_KEY",
              "data_collection": n == "cheap"} for n in ("cheap", "mid", "dear", "tiny", "nokey")]
    return build_catalog([CatalogFile.model_validate({
        "hosts": hosts,
        "models": [
            {"id": "a/model", "name": "A", "created": 1, "input_modalities": ["text", "image"], "endpoints": [
                endpoint("dear", "0.00003"), endpoint("cheap", "0.000001"), endpoint("mid", "0.00001"),
                endpoint("tiny", "0.000002", context_length=100, supported_parameters=["max_tokens"])]},
            {"id": "b/model", "name": "B", "created": 1, "endpoints": [endpoint("mid", "0.00001")]},
            {"id": "c/model", "name": "C", "created": 1, "endpoints": [endpoint("nokey", "0.00001")]},
        ]})])


class Env:
    def get(self, name: str) -> str | None:
        return None if name.startswith("NOKEY") else f"value-of-{name}"


CATALOG = catalog()


def hosts(body: dict[str, Any], health: HealthBoard | None = None, seed: int = 0) -> list[str]:
    request = ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": "hi"}], **body})
    conversation = to_canonical(request)
    candidates = plan(conversation, requested_models(request.model, request.models), request.provider,
                      measure(conversation), CATALOG, Env(), health, random.Random(seed))
    return [c.endpoint.host for c in candidates]


def refused(body: dict[str, Any]) -> GatewayError:
    with pytest.raises(GatewayError) as raised:
        hosts(body)
    return raised.value


def test_order_then_fallbacks_and_allow_fallbacks_false() -> None:
    assert hosts({"model": "a/model", "provider": {"order": ["mid", "dear"]}})[:2] == ["mid", "dear"]
    assert hosts({"model": "a/model", "provider": {"order": ["mid", "dear"], "allow_fallbacks": False}}) == [
        "mid", "dear"]
    assert len(hosts({"model": "a/model", "provider": {"allow_fallbacks": False}})) == 1


def test_sort_price_and_floor_variant() -> None:
    assert hosts({"model": "a/model", "provider": {"sort": "price"}}) == ["cheap", "tiny", "mid", "dear"]
    assert hosts({"model": "a/model:floor"}) == ["cheap", "tiny", "mid", "dear"]


def test_sort_throughput_latency_and_nitro_use_measured_health() -> None:
    board = HealthBoard()
    board.record_speed(endpoint_key("dear", "m-dear"), first_token_ms=50, tokens_per_second=300)
    board.record_speed(endpoint_key("mid", "m-mid"), first_token_ms=20, tokens_per_second=90)
    assert hosts({"model": "a/model:nitro"}, board)[:2] == ["dear", "mid"]
    assert hosts({"model": "a/model", "provider": {"sort": "throughput"}}, board)[:2] == ["dear", "mid"]
    assert hosts({"model": "a/model", "provider": {"sort": "latency"}}, board)[:2] == ["mid", "dear"]


def test_default_is_weighted_by_inverse_square_price_and_failed_go_last() -> None:
    firsts = Counter(hosts({"model": "a/model"}, seed=seed)[0] for seed in range(2000))
    # Weights 1/p²: cheap (1e-6) dominates, tiny (2e-6) a quarter as often, mid and dear almost never.
    assert firsts["cheap"] > 3 * firsts["tiny"] > 0
    assert firsts["cheap"] > 0.7 * 2000
    assert firsts["dear"] < 10
    board = HealthBoard()
    board.record_failure(endpoint_key("cheap", "m-cheap"))
    ordered = hosts({"model": "a/model"}, board)
    assert ordered[-1] == "cheap"
    board.record_success(endpoint_key("cheap", "m-cheap"), 10)  # recovered: back in the draw
    recovered = Counter(hosts({"model": "a/model"}, board, seed)[0] for seed in range(200))
    assert recovered["cheap"] > 100


def test_models_list_is_tried_after_the_first_model() -> None:
    ordered = hosts({"model": "a/model", "models": ["b/model"], "provider": {"sort": "price"}})
    assert ordered == ["cheap", "tiny", "mid", "dear", "mid"]


@pytest.mark.parametrize(("body", "kept"), [
    ({"provider": {"only": ["mid", "tiny"]}}, {"mid", "tiny"}),
    ({"provider": {"ignore": ["cheap"]}}, {"tiny", "mid", "dear"}),
    ({"provider": {"max_price": {"prompt": 5}}}, {"cheap", "tiny"}),  # USD per million tokens
    ({"provider": {"data_collection": "deny"}}, {"tiny", "mid", "dear"}),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, {"cheap", "mid", "dear"}),
    ({"seed": 3, "provider": {"require_parameters": True}}, {"cheap", "mid", "dear"}),
    ({"max_tokens": 500}, {"cheap", "mid", "dear"}),  # tiny's 100-token context cannot hold it
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
     {"cheap", "mid", "dear"}),
])
def test_each_filter_removes_what_cannot_serve(body: dict[str, Any], kept: set[str]) -> None:
    assert set(hosts({"model": "a/model", **body})) == kept


def test_image_input_needs_an_image_model() -> None:
    """Content no requested model takes is the client's mistake: a 400 naming the part and the model."""
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}
    error = refused({"model": "b/model", "messages": [image]})
    assert error.status == 400
    assert error.message == ("messages[0].content[0] (image_url) is image input, which no requested model takes "
                             "(b/model takes text).")
    assert error.metadata["param"] == "messages[0].content[0]"


def test_nothing_left_says_which_filter_removed_what() -> None:
    error = refused({"model": "a/model", "provider": {"only": ["tiny"]}, "max_tokens": 500})
    assert error.status == 404
    assert "a/model via tiny context length 100 is below" in error.message
    assert "a/model via cheap not in provider.only" in error.message


def test_only_missing_credentials_is_503_naming_the_variable() -> None:
    error = refused({"model": "c/model"})
    assert error.status == 503
    assert "NOKEY_KEY" in error.message or "NOKEY_URL" in error.message


def test_a_plan_resolves_each_requested_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks before the candidates (modalities, input parts) read the models the plan resolved: one catalog
    lookup per requested model per request."""
    looked_up: list[str] = []
    original = Catalog.resolve

    def counted(self: Catalog, requested: str) -> Any:
        looked_up.append(requested)
        return original(self, requested)

    monkeypatch.setattr(Catalog, "resolve", counted)
    assert hosts({"model": "a/model", "models": ["b/model"], "provider": {"sort": "price"}})
    assert sorted(looked_up) == ["a/model", "b/model"]
