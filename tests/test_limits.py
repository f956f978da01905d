"""Request limits: each refused with a clear 4xx before any upstream call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lambdarouter.dialects.openrouter.chat import MAX_IMAGES, MAX_MESSAGES, MAX_STOP_SEQUENCES, MAX_TOOLS
from tests.fakes.upstream import FakeUpstream
from tests.gateway import RunningGateway

USER = {"role": "user", "content": "hi"}
PIXEL = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}

OVER_LIMIT: list[tuple[str, dict[str, Any], str]] = [
    ("messages", {"messages": [USER] * (MAX_MESSAGES + 1)}, "messages"),
    ("tools", {"messages": [USER], "tools": [TOOL] * (MAX_TOOLS + 1)}, "tools"),
    ("images", {"messages": [{"role": "user", "content": [PIXEL] * (MAX_IMAGES + 1)}]}, "images"),
    ("stop", {"messages": [USER], "stop": ["x"] * (MAX_STOP_SEQUENCES + 1)}, "stop"),
]


@pytest.mark.parametrize(("case", "body", "says"), OVER_LIMIT, ids=[c[0] for c in OVER_LIMIT])
def test_counts_over_the_limit_are_a_400(case: str, body: dict[str, Any], says: str, http: httpx.Client,
                                         fake_upstream: FakeUpstream) -> None:
    response = http.post("/chat/completions", json={"model": "openai/gpt-4o", **body})
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_body_over_10_mb_is_a_413(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    text = b"a" * (10 * 1024 * 1024)
    huge = b'{"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "' + text + b'"}]}'
    response = http.post("/chat/completions", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert fake_upstream.requests == []


def test_oversized_headers_are_refused(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    # A GET: with a body still being sent, an early answer can race the client's upload into a reset.
    response = httpx.get(f"{gateway.url}/models", timeout=10, headers={"authorization": f"Bearer {gateway.key}",
                                                                        "x-padding": "p" * 100_000})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == 431
