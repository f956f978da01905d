"""POST /completions (legacy prompt) through a real gateway: the official SDK's `completions.create`,
streamed and not, against the recorded exchanges of each chat wire format (the prompt is served as one
user message of a chat request, so the upstream sees a chat call of its own format)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest

from tests.accounting import as_key, exact_json, new_key, wait_for_records
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.test_accounting import HOSTS, model_on


@pytest.mark.parametrize("wire_format", list(HOSTS))
def test_sdk_completions_streamed_and_not(wire_format: str, gateway: RunningGateway,
                                          fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    client = openai.OpenAI(base_url=gateway.url, api_key=plaintext, max_retries=0, timeout=15)
    model, extra = model_on(HOSTS[wire_format]), {"provider": {"only": [HOSTS[wire_format]]}}

    fake_upstream.reply(Reply.from_recording(load_recording(f"{wire_format}/text-basic")))
    whole = client.completions.create(model=model, prompt="Say hi", max_tokens=50, extra_body=extra)
    assert whole.object == "text_completion" and whole.choices[0].text
    assert whole.usage is not None and whole.usage.completion_tokens > 0

    fake_upstream.reply(Reply.from_recording(load_recording(f"{wire_format}/text-stream")))
    chunks = list(client.completions.create(model=model, prompt="Say hi", max_tokens=50, stream=True,
                                            extra_body=extra))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None

    records = wait_for_records(gateway, key_hash, 2)
    assert len(records) == 2 and all(r.status == "success" and r.cost > 0 for r in records)
    assert {r.streamed for r in records} == {True, False}
    first_message = fake_upstream.requests[0].json()
    assert "Say hi" in str(first_message)


def test_cost_told_equals_ledger(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")))
    with as_key(gateway, plaintext) as client:
        response = client.post("/completions", json={"model": "openai/gpt-4o", "provider": {"only": ["openai"]},
                                                     "prompt": ["one prompt"], "max_tokens": 20})
    assert response.status_code == 200, response.text
    told = Decimal(exact_json(response.text)["usage"]["cost"])
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == told and response.headers["x-generation-id"] == record.id
    sent = fake_upstream.requests[0].json()
    assert sent["messages"] == [{"role": "user", "content": "one prompt"}]


@pytest.mark.parametrize(("body", "says"), [
    ({"model": "openai/gpt-4o", "prompt": ""}, "prompt"),
    ({"model": "openai/gpt-4o", "prompt": ["a", "b"]}, "prompt"),
    ({"model": "openai/gpt-4o", "prompt": "hi", "echo": True}, "echo"),
    ({"model": "openai/gpt-4o", "prompt": "hi", "n": 2}, "`n`"),
    ({"model": "openai/gpt-4o"}, "prompt"),
])
def test_bad_input_is_400(http: Any, fake_upstream: FakeUpstream, body: dict[str, Any], says: str) -> None:
    response = http.post("/completions", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_budget_402_and_rate_limit_429(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    poor, _ = new_key(gateway, limit=0.001)
    with as_key(gateway, poor) as client:
        refused = client.post("/completions", json={"model": "openai/gpt-4o", "prompt": "hi", "max_tokens": 100000})
    assert refused.status_code == 402
    limited, _ = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")))
    with as_key(gateway, limited) as client:
        body = {"model": "openai/gpt-4o", "provider": {"only": ["openai"]}, "prompt": "hi"}
        assert client.post("/completions", json=body).status_code == 200
        assert client.post("/completions", json=body).status_code == 429
    assert len(fake_upstream.requests) == 1
