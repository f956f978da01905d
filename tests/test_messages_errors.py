"""Errors of /messages in Anthropic's shape and status codes, raised by the `anthropic` SDK as its typed errors:
the gateway's own refusals (key, body, allow-list, rate window, budget, unknown model) and upstream failures
(Anthropic's 529 overloaded, its 400, a provider gone)."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from tests.accounting import new_key
from tests.anthropic_cases import error_body, message_body
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, RunningGateway
from tests.messages_cases import ANTHROPIC_HOSTED, MESSAGES_PATH, anthropic_base, sdk

HI: Any = [{"role": "user", "content": "Hi"}]


def _error(exc: anthropic.APIStatusError) -> tuple[int, str]:
    body = exc.body
    assert isinstance(body, dict) and body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
    return exc.status_code, body["error"]["type"]


def test_bad_key_is_authentication_error(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(anthropic.AuthenticationError) as raised:
        sdk(gateway, key="sk-lr-v1-not-a-key").messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    assert _error(raised.value) == (401, "authentication_error")
    with pytest.raises(anthropic.AuthenticationError):  # the management key is not a gateway key
        sdk(gateway, key=ADMIN_KEY).messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    assert fake_upstream.requests == []


def test_bad_body_is_invalid_request_error(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    client = sdk(gateway)
    missing_text: Any = [{"role": "user", "content": [{"type": "text"}]}]
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=missing_text)
    assert _error(raised.value) == (400, "invalid_request_error")
    assert "messages.0.content.0.text" in str(raised.value)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI,
                               extra_body={"temperature": 1.5})  # Anthropic's range is 0 to 1
    raw = httpx.post(f"{anthropic_base(gateway)}/v1/messages", content=b"{not json", timeout=10,
                     headers={"x-api-key": gateway.key})
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    assert fake_upstream.requests == []


def test_unknown_model_is_not_found_error(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        sdk(gateway).messages.create(model="claude-nonesuch-9", max_tokens=5, messages=HI)
    assert _error(raised.value) == (404, "not_found_error") and "claude-nonesuch-9" in str(raised.value)


def test_model_outside_the_allow_list_is_permission_error(gateway: RunningGateway,
                                                           fake_upstream: FakeUpstream) -> None:
    only_gpt, _ = new_key(gateway, allowed_models=["openai/*"])
    with pytest.raises(anthropic.PermissionDeniedError) as raised:
        sdk(gateway, key=only_gpt).messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    assert _error(raised.value) == (403, "permission_error")
    with pytest.raises(anthropic.PermissionDeniedError):
        sdk(gateway, key=only_gpt).messages.count_tokens(model=ANTHROPIC_HOSTED, messages=HI)
    assert fake_upstream.requests == []


def test_full_rate_window_is_rate_limit_error(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    limited, _ = new_key(gateway, rate_limit={"requests": 1, "interval": "1h"})
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "ok"}])), path=MESSAGES_PATH)
    sdk(gateway, key=limited).messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    with pytest.raises(anthropic.RateLimitError) as raised:
        sdk(gateway, key=limited).messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    assert _error(raised.value) == (429, "rate_limit_error")
    assert int(raised.value.response.headers["retry-after"]) > 0


def test_no_credit_left_is_billing_error(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    poor, _ = new_key(gateway, limit=0.001)
    with pytest.raises(anthropic.PaymentRequiredError) as raised:  # 128k tokens of Opus output: $2.56 at worst
        sdk(gateway, key=poor).messages.create(model=ANTHROPIC_HOSTED, max_tokens=128000, messages=HI)
    assert _error(raised.value) == (402, "billing_error")
    assert fake_upstream.requests == []


def test_upstream_overloaded_is_overloaded_error(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(error_body("overloaded_error", "Overloaded"), status=529), path=MESSAGES_PATH)
    with pytest.raises(anthropic.OverloadedError) as raised:
        sdk(gateway).messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    assert _error(raised.value) == (529, "overloaded_error")


def test_upstream_invalid_request_is_the_clients_400(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(error_body("invalid_request_error", "messages: roles must alternate"),
                                   status=400), path=MESSAGES_PATH)
    with pytest.raises(anthropic.BadRequestError) as raised:
        sdk(gateway).messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    assert _error(raised.value) == (400, "invalid_request_error")
    assert "roles must alternate" in str(raised.value)


def test_upstream_refusing_the_gateways_key_is_api_error(gateway: RunningGateway,
                                                          fake_upstream: FakeUpstream) -> None:
    """Anthropic refusing the gateway's own key is not the client's authentication problem."""
    fake_upstream.reply(Reply.json(error_body("authentication_error", "invalid x-api-key"), status=401),
                        path=MESSAGES_PATH)
    with pytest.raises(anthropic.InternalServerError) as raised:
        sdk(gateway).messages.create(model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI)
    assert _error(raised.value) == (500, "api_error")


def test_stream_failing_after_its_first_byte_ends_with_an_error_event(gateway: RunningGateway,
                                                                     fake_upstream: FakeUpstream) -> None:
    from tests.anthropic_cases import message_start, sse, text_block

    events = [message_start(), *text_block(0, "Hal")[:2], sse("error", {"error": {"type": "overloaded_error",
                                                                                  "message": "Overloaded"}})]
    fake_upstream.reply(Reply.sse(events), path=MESSAGES_PATH)
    with pytest.raises(anthropic.APIStatusError) as raised, sdk(gateway).messages.stream(
            model=ANTHROPIC_HOSTED, max_tokens=5, messages=HI) as stream:
        stream.until_done()
    body: Any = raised.value.body
    assert body["error"]["type"] == "overloaded_error"
