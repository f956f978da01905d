"""The official `openai` Python SDK on what issue 14 adds around chat: `models.retrieve` of an `author/slug` id,
typed errors for 400 and 402 (401 is in test_chat_api.py), and OpenRouter's `models` fallback through
`extra_body`."""

from __future__ import annotations

import openai
import pytest

from tests.accounting import new_key
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway
from tests.wire_formats import WIRE_FORMATS

ASK = [{"role": "user", "content": "hi"}]


def test_models_retrieve(client: openai.OpenAI) -> None:
    model = client.models.retrieve("anthropic/claude-sonnet-4.5")
    assert (model.id, model.object, model.owned_by) == ("anthropic/claude-sonnet-4.5", "model", "anthropic")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nobody/nothing")


def test_typed_400_and_402(client: openai.OpenAI, gateway: RunningGateway) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="nobody/nothing", messages=ASK)  # type: ignore[arg-type]
    assert bad.value.status_code == 400
    broke, _ = new_key(gateway, limit=0)
    poor = openai.OpenAI(base_url=gateway.url, api_key=broke, max_retries=0, timeout=15)
    with pytest.raises(openai.APIStatusError) as unpaid:
        poor.chat.completions.create(model="openai/gpt-4o", messages=ASK)  # type: ignore[arg-type]
    assert unpaid.value.status_code == 402
    assert unpaid.value.body["code"] == 402  # type: ignore[index]


def test_models_fallback_through_extra_body(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    anthropic, gemini = WIRE_FORMATS["anthropic"], WIRE_FORMATS["gemini"]
    fake_upstream.reply(Reply.json({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                                   status=529), path=anthropic.whole_path)
    fake_upstream.reply(gemini.text(["from the fallback"], False), path=gemini.whole_path)
    answer = client.chat.completions.create(model=anthropic.model, messages=ASK,  # type: ignore[arg-type]
                                            extra_body={"models": [gemini.model],
                                                        "provider": {"only": ["anthropic", "google-ai-studio"]}})
    assert answer.choices[0].message.content == "from the fallback" and answer.model == gemini.model
