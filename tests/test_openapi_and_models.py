"""GET /openapi.json is a valid OpenAPI 3.1 document of the real routes; /models is OpenRouter's shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from openapi_spec_validator import validate

from lambdarouter.core.catalog import load_catalog
from lambdarouter.http.app import PREFIXES, create_app
from tests.gateway import RunningGateway


def test_openapi_document_is_valid_and_covers_every_route(gateway: RunningGateway) -> None:
    doc: dict[str, Any] = httpx.get(f"{gateway.url}/openapi.json", timeout=10).json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    app_paths = {route.path for mount in create_app().routes for route in getattr(mount, "routes", [])}
    documented = set(doc["paths"])
    for prefix in PREFIXES:
        for path in app_paths:
            assert prefix + path in documented, prefix + path
    request_schema = doc["components"]["schemas"]["ChatCompletionRequest"]
    assert {"messages", "model", "models", "provider", "reasoning", "tools"} <= set(request_schema["properties"])


def test_models_are_openrouter_shaped(gateway: RunningGateway) -> None:
    data = httpx.get(f"{gateway.url}/models", timeout=10).json()["data"]
    by_id = {m["id"]: m for m in data}
    gpt4o = by_id["openai/gpt-4o"]
    assert set(gpt4o) >= {"id", "canonical_slug", "name", "created", "description", "context_length",
                          "architecture", "pricing", "top_provider", "supported_parameters"}
    assert isinstance(gpt4o["pricing"]["prompt"], str)
    endpoint = load_catalog().models["openai/gpt-4o"].endpoints[0]
    assert Decimal(gpt4o["pricing"]["prompt"]) == endpoint.prompt
    assert "e" not in gpt4o["pricing"]["prompt"].lower()  # plain decimal strings, as OpenRouter sends
    assert {"text", "image"} <= set(gpt4o["architecture"]["input_modalities"])
    alias = by_id["anthropic/claude-3-opus"]
    assert alias["canonical_slug"] != alias["id"]
    assert alias["canonical_slug"] in by_id
    assert "alias" in alias["name"]


def test_model_endpoints(gateway: RunningGateway) -> None:
    response = httpx.get(f"{gateway.url}/models/meta-llama/llama-3.3-70b-instruct/endpoints", timeout=10)
    assert response.status_code == 200
    tags = {e["tag"] for e in response.json()["data"]["endpoints"]}
    assert len(tags) >= 2
    missing = httpx.get(f"{gateway.url}/models/nobody/nothing/endpoints", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404
