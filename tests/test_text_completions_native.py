"""POST /completions served natively by endpoints that have OpenAI's legacy Completions API.

The fake upstream speaks `POST /v1/completions` in the shapes of OpenAI's API reference
(https://platform.openai.com/docs/api-reference/completions/object and the streamed `text_completion`
chunks): tests/recordings has no recorded legacy exchange, so the bodies below are built from that documented
shape. The client is the official SDK's `completions.create`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest

from tests.accounting import as_key, exact_json, new_key, wait_for_records
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway

INSTRUCT = "openai/gpt-3.5-turbo-instruct"
PROMPT_PRICE, COMPLETION_PRICE = Decimal("0.0000015"), Decimal("0.000002")  # catalog: $1.50 / $2 per 1M


def legacy_body(texts: list[str], prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7", "object": "text_completion", "created": 1589478378,
        "model": "gpt-3.5-turbo-instruct", "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"text": text, "index": i, "logprobs": None, "finish_reason": "length"}
                    for i, text in enumerate(texts)],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def legacy_stream(pieces: list[str], prompt_tokens: int, completion_tokens: int) -> Reply:
    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
        import json
        body: dict[str, Any] = {"id": "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe", "object": "text_completion",
                                "created": 1690759702, "model": "gpt-3.5-turbo-instruct", "choices": choices}
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"

    events = [chunk([{"text": p, "index": 0, "logprobs": None, "finish_reason": None}]) for p in pieces]
    events.append(chunk([{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}]))
    events.append(chunk([], {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                             "total_tokens": prompt_tokens + completion_tokens}))
    events.append("data: [DONE]\n\n")
    return Reply.sse(events)


def cost(prompt_tokens: int, completion_tokens: int) -> Decimal:
    return prompt_tokens * PROMPT_PRICE + completion_tokens * COMPLETION_PRICE


def test_sdk_native_completion_not_streamed(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    client = openai.OpenAI(base_url=gateway.url, api_key=plaintext, max_retries=0, timeout=15)
    fake_upstream.reply(Reply.json(legacy_body(["\n\nThis is indeed a test", " Second"], 5, 7)),
                        path="/v1/completions")
    answer = client.completions.create(model=INSTRUCT, prompt=["Say this is a test", "And again"], max_tokens=7,
                                       suffix="!", echo=False, best_of=1, logprobs=2, stop=["\n\n\n"])
    assert answer.object == "text_completion" and answer.id.startswith("gen-")
    assert [c.text for c in answer.choices] == ["\n\nThis is indeed a test", " Second"]
    assert answer.model == INSTRUCT and answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (5, 7)
    told = Decimal(str(answer.usage.model_extra["cost"])) if answer.usage.model_extra else None
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == cost(5, 7) == told
    assert (record.model, record.provider, record.streamed) == (INSTRUCT, "openai", False)
    [sent] = fake_upstream.requests
    assert sent.path == "/v1/completions"
    body = sent.json()
    assert body["model"] == "gpt-3.5-turbo-instruct" and body["prompt"] == ["Say this is a test", "And again"]
    assert (body["suffix"], body["logprobs"], body["stop"], body["max_tokens"]) == ("!", 2, ["\n\n\n"], 7)
    assert body["stream"] is False and "provider" not in body


def test_sdk_native_completion_streamed(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    client = openai.OpenAI(base_url=gateway.url, api_key=plaintext, max_retries=0, timeout=15)
    fake_upstream.reply(legacy_stream(["Hello", " there", "!"], 4, 3), path="/v1/completions")
    chunks = list(client.completions.create(model=INSTRUCT, prompt="Say hi", max_tokens=20, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Hello there!"
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens == 3
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.streamed and record.status == "success" and record.cost == cost(4, 3)
    assert Decimal(str((last.usage.model_extra or {})["cost"])) == record.cost
    body = fake_upstream.requests[0].json()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_answer_without_usage_is_charged_for_what_was_produced(gateway: RunningGateway,
                                                                 fake_upstream: FakeUpstream) -> None:
    """A host that reports no usage (some OpenAI-compatible servers omit it) is charged as chat is: the prompt's
    estimate and 4 characters per completion token of the text returned, marked estimated; the ledger keeps the
    finish reason; the client is told the same cost."""
    plaintext, key_hash = new_key(gateway, limit=5)
    body = legacy_body(["x" * 40], 0, 0)
    del body["usage"]
    fake_upstream.reply(Reply.json(body), path="/v1/completions")
    with as_key(gateway, plaintext) as client:
        response = client.post("/completions", json={"model": INSTRUCT, "prompt": "Say this is a test"})
    assert response.status_code == 200, response.text
    usage = exact_json(response.text)["usage"]
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.completion_tokens == usage["completion_tokens"] == 10
    assert record.prompt_tokens == usage["prompt_tokens"] > 0
    assert record.usage_estimated and record.finish_reason == "length"
    assert record.cost == usage["cost"] == cost(record.prompt_tokens, 10)


def test_token_prompts_and_n_pass_through(http: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(legacy_body(["a", "b", "c", "d"], 6, 4)), path="/v1/completions")
    response = http.post("/completions", json={"model": INSTRUCT, "prompt": [[1820, 374], [64, 65, 66]], "n": 2,
                                               "echo": True})
    assert response.status_code == 200, response.text
    assert [c["index"] for c in response.json()["choices"]] == [0, 1, 2, 3]
    sent = fake_upstream.requests[0].json()
    assert sent["prompt"] == [[1820, 374], [64, 65, 66]] and sent["n"] == 2 and sent["echo"] is True


def test_chat_only_fallback_is_translated(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    """A legacy model that fails falls back to a chat-only model, which gets the prompt as a chat message."""
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.json({"error": {"message": "overloaded"}}, status=503), path="/v1/completions")
    fake_upstream.reply(Reply.from_recording(load_recording("openai/text-basic")), path="/v1/chat/completions")
    with as_key(gateway, plaintext) as client:
        response = client.post("/completions", json={"model": INSTRUCT, "models": ["openai/gpt-4o"],
                                                     "provider": {"only": ["openai"]}, "prompt": "hi"})
    assert response.status_code == 200, response.text
    answer = exact_json(response.text)
    assert answer["model"] == "openai/gpt-4o" and answer["choices"][0]["text"]
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.cost == answer["usage"]["cost"] and len(record.attempts) == 2
    assert [r.path for r in fake_upstream.requests] == ["/v1/completions", "/v1/chat/completions"]
    assert fake_upstream.requests[1].json()["messages"] == [{"role": "user", "content": "hi"}]


def test_compatible_host_marked_by_data_is_native(http: Any, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(legacy_body(["x"], 2, 1)), path="/vllm/v1/completions")
    response = http.post("/completions", json={"model": "acme/base-model", "prompt": "hi", "echo": True})
    assert response.status_code == 200, response.text
    assert fake_upstream.requests[0].json()["model"] == "base-model-7b"


@pytest.mark.parametrize(("body", "says"), [
    ({"model": "acme/base-model", "prompt": "hi", "suffix": "!"}, "does not take `suffix`"),
    ({"model": "openai/gpt-4o", "prompt": [1, 2, 3]}, "a prompt of token ids"),
    ({"model": "openai/gpt-4o", "prompt": "hi", "best_of": 3}, "`best_of` above 1"),
    ({"model": "openai/gpt-4o", "prompt": "hi", "suffix": "x"}, "is a chat model"),
    ({"model": INSTRUCT, "prompt": [[]]}, "prompt"),
    ({"model": INSTRUCT, "prompt": "hi", "logprobs": 9}, "logprobs"),
])
def test_unservable_parameters_are_400_before_any_call(http: Any, fake_upstream: FakeUpstream,
                                                       body: dict[str, Any], says: str) -> None:
    response = http.post("/completions", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]
    assert fake_upstream.requests == []


def test_chat_on_a_completion_only_model_is_400(client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=INSTRUCT, messages=[{"role": "user", "content": "hi"}])
    assert "POST /completions" in str(caught.value)
    assert fake_upstream.requests == []
