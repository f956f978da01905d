"""POST /images/generations answers as OpenAI does when `response_format` is not given: GPT Image models in
`b64_json` (they answer nothing else: https://platform.openai.com/docs/api-reference/images/create), the
others with a `url`; a client that asks gets what it asked for. Read by the official `openai` SDK, which (like
litellm and pydantic-ai) finds the image of a GPT Image model in `b64_json`.
"""

from __future__ import annotations

import base64
from typing import Any

import openai
import pytest

from tests.fakes.upstream import FakeUpstream, Reply

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
DATA_URL = f"data:image/png;base64,{PNG}"


@pytest.mark.parametrize(("model", "asked", "b64", "url"), [
    ("openai/gpt-image-1", {}, PNG, None),
    ("openai/gpt-image-1", {"response_format": "url"}, None, DATA_URL),
    ("openai/dall-e-3", {}, None, DATA_URL),
    ("openai/dall-e-3", {"response_format": "b64_json"}, PNG, None),
])
def test_the_default_answer_format_is_openais(model: str, asked: dict[str, Any], b64: str | None, url: str | None,
                                              client: openai.OpenAI, fake_upstream: FakeUpstream) -> None:
    fake_upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": PNG}]}), path="/v1/images/generations")
    result = client.images.generate(model=model, prompt="a red dot", **asked)
    [image] = result.data or []
    assert (image.b64_json, image.url) == (b64, url)
    assert base64.b64decode(image.b64_json or (image.url or "").split(",", 1)[1]) == base64.b64decode(PNG)
