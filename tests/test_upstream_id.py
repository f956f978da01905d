"""GET /generation's `upstream_id`: the provider's own id of the answer (OpenAI's `id`, Anthropic's message
`id`, Gemini's `responseId`), kept in the ledger for support requests to the provider; replayed from the
recorded exchanges, streamed and not. Bedrock's Converse answers carry no id in their body: null there."""

from __future__ import annotations

import openai
import pytest

from tests.accounting import new_key, wait_for_records
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import RunningGateway

GEMINI = "/v1beta/models/gemini-2.5-flash"
CASES = [
    ("openai/text-basic", "openai/gpt-4o", "/v1/chat/completions", "chatcmpl-CRkJFgcA6BuMrBur38ZHUXgT6zRjg"),
    ("openai/text-stream", "openai/gpt-4o", "/v1/chat/completions", "chatcmpl-CoDWl5rS0pF10P0W0TDVgY3NA26dk"),
    ("anthropic/text-basic", "anthropic/claude-sonnet-4-0", "/v1/messages", "msg_01EXuhhFC9buDpjCcznFPSDs"),
    ("anthropic/text-stream", "anthropic/claude-sonnet-4-0", "/v1/messages", "msg_018bk6q16LtrDpGDm6TyXTgn"),
    ("gemini/text-basic", "google/gemini-2.5-flash", f"{GEMINI}:generateContent", "SJfyaMbrNJKlqtsPvNOW8Ao"),
    ("gemini/text-stream", "google/gemini-2.5-flash", f"{GEMINI}:streamGenerateContent", "VJfyaP7eE_6zmtkP4qLV6Ao"),
]


@pytest.mark.parametrize(("recording", "model", "path", "upstream_id"), CASES, ids=[c[0] for c in CASES])
def test_generation_reports_the_providers_own_id(gateway: RunningGateway, fake_upstream: FakeUpstream,
                                                 recording: str, model: str, path: str, upstream_id: str) -> None:
    plaintext, key_hash = new_key(gateway, limit=5)
    fake_upstream.reply(Reply.from_recording(load_recording(recording)), path=path)
    client = openai.OpenAI(base_url=gateway.url, api_key=plaintext, max_retries=0, timeout=15)
    if recording.endswith("stream"):
        chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                                     stream=True))
        generation_id = chunks[0].id
    else:
        generation_id = client.chat.completions.create(model=model,
                                                       messages=[{"role": "user", "content": "hi"}]).id
    [record] = wait_for_records(gateway, key_hash, 1)
    assert record.id == generation_id and record.upstream_id == upstream_id
    shown = client.get(f"/generation?id={generation_id}", cast_to=object)
    assert isinstance(shown, dict) and shown["data"]["upstream_id"] == upstream_id
