"""The OpenAI stream decoder's shortcut for the commonest chunk (`{"content": "..."}` alone) reads exactly what the
full reading does, on every chunk shape it might meet; and event data is read as `json.loads` reads it.

The shortcut (providers/openai/chat.py `_content_only`) skips building anything for a content-only chunk; a chunk
with anything more (a finish, usage, log probabilities, a second choice, `role`, `reasoning`, tool calls, `null`
content, an error) must go the full way. Property: for any chunk, a decoder past its first chunk yields the same
events as `_chunk`, which reads every field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent, TextDelta
from lambdarouter.providers.openai.chat import OpenAIStreamDecoder
from lambdarouter.providers.sse import json_value

_texts = st.text(max_size=8)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), _texts)
_CALL = {"index": 0, "id": "c", "function": {"name": "f", "arguments": ""}}
# Each draw is a content-only chunk with zero or more of these added (or its parts replaced), so that the
# shortcut's every refusal is tried next to the chunk it takes.
_delta_extras = st.dictionaries(
    st.sampled_from(["content", "role", "refusal", "reasoning", "reasoning_content", "tool_calls", "images"]),
    st.one_of(_scalars, st.just([]), st.just([_CALL])), max_size=2)
_choice_extras = st.dictionaries(
    st.sampled_from(["finish_reason", "logprobs", "delta"]),
    st.one_of(st.none(), st.sampled_from(["stop", "length", "tool_calls", "", "text"]), st.just({}),
              st.just({"content": [{"token": "a", "logprob": -0.1}]}), st.just({"content": None})), max_size=2)
_chunk_extras = st.dictionaries(
    st.sampled_from(["usage", "error", "choices", "id"]),
    st.one_of(st.none(), st.just({}), st.just({"prompt_tokens": 3, "completion_tokens": 2}),
              st.just({"message": "boom"}), st.just("x"), st.just([None]), st.just([])), max_size=2)


@st.composite
def _chunks(draw: st.DrawFn) -> dict[str, Any]:
    delta = {"content": draw(_texts), **draw(_delta_extras)}
    choice = {"index": 0, "delta": delta, **draw(_choice_extras)}
    choices = [choice, *([{"index": 1, "delta": {"content": "b"}}] if draw(st.booleans()) and draw(st.booleans())
                         else [])]
    return {"id": "chatcmpl-1", "choices": choices, **draw(_chunk_extras)}


def _read(decoder: OpenAIStreamDecoder, read: Any) -> list[StreamEvent] | str:
    try:
        events: list[StreamEvent] = read()
        return events
    except (GatewayError, ValueError, AttributeError, TypeError) as exc:  # the same failure either way
        return type(exc).__name__


def _past_first(decoder: OpenAIStreamDecoder) -> OpenAIStreamDecoder:
    decoder.feed(b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n')
    return decoder


@settings(max_examples=400, deadline=None)
@given(_chunks())
def test_the_shortcut_reads_what_the_full_reading_reads(chunk: dict[str, Any]) -> None:
    data = json.dumps(chunk)
    fast = _past_first(OpenAIStreamDecoder("openai"))
    full = _past_first(OpenAIStreamDecoder("openai"))
    assert _read(fast, lambda: fast.feed(f"data: {data}\n\n".encode())) == _read(full, lambda: full._chunk(chunk))


def test_a_content_chunk_is_one_text_delta_and_an_empty_one_nothing() -> None:
    decoder = _past_first(OpenAIStreamDecoder("openai"))
    body = (b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}'
            b'\n\ndata: {"id":"c","choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}\n\n')
    assert decoder.feed(body) == [TextDelta("Hi")]


@pytest.mark.parametrize("text", ['{"a":1}', ' {"a":1}', '{"a":1} ', "\t[1, 2]\n", "3", '"x"', "null", "NaN",
                                  "", " ", "{", '{"a":1}{"b":2}', '{"a":1} x', "[1,]", "tru", "\ud83d"])
def test_event_data_is_read_as_json_loads_reads_it(text: str) -> None:
    def read(loads: Any) -> Any:
        try:
            return ("value", json.dumps(loads(text)))  # dumped: NaN is not equal to itself
        except json.JSONDecodeError as exc:
            return ("refused", exc.msg, exc.pos)

    assert read(json_value) == read(json.loads)
