"""Claude on Bedrock through /messages: Bedrock's native Anthropic body (InvokeModel /
InvokeModelWithResponseStream, `anthropic_version: bedrock-2023-05-31`), read by the official `anthropic` SDK."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest

from tests.anthropic_cases import message_body, message_end, message_start, text_block
from tests.bedrock_cases import exception, verify_sigv4
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway, running_gateway
from tests.messages_cases import (
    BEDROCK_HOSTED,
    BEDROCK_INVOKE,
    BEDROCK_STREAM,
    SONNET_4,
    anthropic_base,
    cost_of,
    invoke_stream,
    sdk,
    sse_events,
)

THINKING = {"type": "thinking", "thinking": "Two and two.", "signature": "EqQBbedrock=="}
EVENTSTREAM = {"content-type": "application/vnd.amazon.eventstream"}


def test_create_sends_the_native_invoke_body(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(message_body([THINKING, {"type": "text", "text": "4"}], input_tokens=30,
                                                output_tokens=12)), path=BEDROCK_INVOKE)
    sent = {"model": "claude-sonnet-4-20250514", "max_tokens": 2048,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "2+2?"}], "metadata": {"user_id": "u-7"}}
    answer = httpx.post(f"{anthropic_base(gateway)}/v1/messages", json=sent, timeout=20,
                        headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01",
                                 "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"})
    assert answer.status_code == 200, answer.text
    [received] = fake_upstream.requests
    verify_sigv4(received, fake_upstream.url)
    assert received.raw_path == "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke"
    body = received.json()
    # Bedrock's own fields; every other member as the client sent it. Betas Bedrock does not know are left out.
    assert body == {**{k: v for k, v in sent.items() if k != "model"}, "anthropic_version": "bedrock-2023-05-31",
                    "anthropic_beta": ["interleaved-thinking-2025-05-14"]}
    message = answer.json()
    assert message["content"] == [THINKING, {"type": "text", "text": "4"}]
    assert Decimal(str(message["usage"]["cost"])) == cost_of(30, 12, prices=SONNET_4)


def test_stream_helper_reads_bedrocks_event_stream(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    events = [message_start(input_tokens=25), *text_block(0, "Bon", "jour"), *message_end(output_tokens=7)]
    fake_upstream.reply(Reply(headers=EVENTSTREAM, chunks=invoke_stream(events), chunk_delay=0.005),
                        path=BEDROCK_STREAM)
    with sdk(gateway).messages.stream(model=BEDROCK_HOSTED, max_tokens=100,
                                      messages=[{"role": "user", "content": "Hi"}]) as stream:
        deltas = [event for event in stream if event.type == "message_delta"]
        final = stream.get_final_message()
    assert final.content[0].text == "Bonjour" and final.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (25, 7)
    assert Decimal(str((deltas[0].usage.model_extra or {})["cost"])) == cost_of(25, 7, prices=SONNET_4)
    [received] = fake_upstream.requests
    assert "stream" not in received.json() and received.headers["accept"] == EVENTSTREAM["content-type"]


def test_a_bedrock_exception_mid_stream_is_an_anthropic_error_event(gateway: RunningGateway,
                                                                   fake_upstream: FakeUpstream) -> None:
    events = invoke_stream([message_start(input_tokens=25), *text_block(0, "Half")[:2]])
    fake_upstream.reply(Reply(headers=EVENTSTREAM, chunks=[*events, exception("throttlingException", "Slow down")]),
                        path=BEDROCK_STREAM)
    body = {"model": BEDROCK_HOSTED, "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": "Hi"}]}
    answer = httpx.post(f"{anthropic_base(gateway)}/v1/messages", json=body, timeout=20,
                        headers={"x-api-key": gateway.key})
    received = sse_events(answer.text)
    assert [name for name, _ in received][-2:] == ["message_delta", "error"]
    assert received[-1][1] == {"type": "error", "error": {"type": "rate_limit_error",
                                                         "message": "amazon-bedrock: ThrottlingException: Slow down"}}
    delta = received[-2][1]
    assert delta["delta"]["stop_reason"] is None and Decimal(str(delta["usage"]["cost"])) > 0
    # The SDK raises an error event of a 200 stream as APIStatusError carrying Anthropic's error body.
    fake_upstream.reply(Reply(headers=EVENTSTREAM, chunks=[*events, exception("throttlingException", "Slow")]),
                        path=BEDROCK_STREAM)
    with pytest.raises(anthropic.APIStatusError) as raised, sdk(gateway).messages.stream(
            model=BEDROCK_HOSTED, max_tokens=100, messages=[{"role": "user", "content": "Hi"}]) as stream:
        stream.until_done()
    assert raised.value.body == {"type": "error", "error": {"type": "rate_limit_error",
                                                            "message": "amazon-bedrock: ThrottlingException: Slow"}}


def test_count_tokens_asks_bedrock(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    # The profile's model itself: CountTokens names models, not cross-Region profiles.
    fake_upstream.reply(Reply.json({"inputTokens": 321}),
                        path="/model/anthropic.claude-sonnet-4-20250514-v1:0/count-tokens")
    counted = sdk(gateway).messages.count_tokens(model=BEDROCK_HOSTED, messages=[{"role": "user", "content": "Hi"}])
    assert counted.input_tokens == 321
    [received] = fake_upstream.requests
    verify_sigv4(received, fake_upstream.url)
    inner = json.loads(base64.b64decode(received.json()["input"]["invokeModel"]["body"]))
    assert inner == {"messages": [{"role": "user", "content": "Hi"}], "anthropic_version": "bedrock-2023-05-31",
                     "max_tokens": 1}


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def fetching_gateway(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    RunningGateway
]:
    """A gateway allowed to fetch images from the fake upstream (a loopback address it refuses otherwise)."""
    host, port = fake_upstream_server.address
    with running_gateway(tmp_path_factory.mktemp("fetching"), fake_upstream_server.url,
                         {"LAMBDAROUTER_IMAGE_FETCH_ALLOW": f"{host}:{port}"}) as running:
        yield running


def test_an_image_url_reaches_bedrock_as_bytes(fetching_gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """Claude on Bedrock takes base64 sources only: the gateway fetches the URL (SSRF-checked) and inlines it."""
    fake_upstream.reply(Reply(headers={"content-type": "image/png"}, body=base64.b64decode(PIXEL)), path="/pixel.png")
    fake_upstream.reply(Reply.json(message_body([{"type": "text", "text": "A pixel."}])), path=BEDROCK_INVOKE)
    image: Any = {"type": "image", "source": {"type": "url", "url": f"{fake_upstream.url}/pixel.png"}}
    sdk(fetching_gateway).messages.create(model=BEDROCK_HOSTED, max_tokens=100, messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}])
    sent = next(fake_upstream.iter_requests(BEDROCK_INVOKE)).json()
    assert sent["messages"][0]["content"][1] == {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": PIXEL}}


def test_a_private_image_url_is_refused_before_bedrock(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    image: Any = {"type": "image", "source": {"type": "url", "url": f"{fake_upstream.url}/pixel.png"}}
    with pytest.raises(anthropic.BadRequestError) as raised:
        sdk(gateway).messages.create(model=BEDROCK_HOSTED, max_tokens=100, messages=[
            {"role": "user", "content": [image]}])
    assert "cannot be fetched" in str(raised.value) and fake_upstream.requests == []
