"""OpenRouter's content-part form of embeddings `input` (issue 21): text parts are embedded as text; a part the
embedding models cannot take is a 400 naming it, before any upstream call."""

from __future__ import annotations

import httpx

from tests.fakes.upstream import FakeUpstream, Reply
from tests.test_embeddings import OPENAI_PATH, openai_body


def test_text_parts_are_one_input_per_object(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json(openai_body([[0.5, -0.25], [1.0, 2.0]], 7)), path=OPENAI_PATH)
    answer = http.post("/embeddings", json={"model": "openai/text-embedding-3-small", "input": [
        {"content": [{"type": "text", "text": "a b"}, {"type": "text", "text": "c"}]},
        {"content": [{"type": "text", "text": "d"}]}]})
    assert answer.status_code == 200, answer.text
    assert fake_upstream.requests[0].json()["input"] == ["a b\nc", "d"]


def test_an_image_part_is_a_400_naming_it(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    answer = http.post("/embeddings", json={"model": "openai/text-embedding-3-small", "input": [
        {"content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]})
    assert answer.status_code == 400 and answer.json()["error"]["metadata"]["param"] == "input[0].content[1]"
    assert not fake_upstream.requests
