"""Raw UTF-8 in every stream decoder: a character split between two network reads arrives whole.

Providers send JSON with raw UTF-8 (not `\\u` escapes), and a read may end anywhere, also inside a multi-byte
character. Each wire format's stream is cut at every byte offset (the decoders alone), and written split inside
every character through the whole gateway to the official `openai` SDK.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import openai
import pytest

from lambdarouter.core.events import TextDelta
from lambdarouter.providers.anthropic.stream import AnthropicStreamDecoder
from lambdarouter.providers.base import StreamDecoder
from lambdarouter.providers.bedrock.stream import BedrockStreamDecoder
from lambdarouter.providers.gemini.stream import GeminiStreamDecoder
from lambdarouter.providers.openai.chat import OpenAIStreamDecoder
from lambdarouter.providers.sse import SSEDecoder
from tests.fakes.upstream import FakeUpstream, Reply
from tests.wire_formats import WIRE_FORMATS

# CJK, a 4-byte emoji and a ZWJ sequence, combining marks (e + U+0301, a + U+0308 + U+0323), RTL, a BOM-like
# U+FEFF, and text near the SSE line-end characters (U+2028 is not a line end for SSE).
PIECES = ["你好\uff0c", "世界 \U0001F30D\U0001F469\u200d\U0001F4BB", " e\u0301a\u0308\u0323 ", "שלום\u2028",
          "\ufeffÅngström ✓"]
TEXT = "".join(PIECES)
DECODERS: dict[str, Callable[[], StreamDecoder]] = {
    "openai": OpenAIStreamDecoder, "anthropic": AnthropicStreamDecoder, "gemini": GeminiStreamDecoder,
    "bedrock": BedrockStreamDecoder}


def _stream(wire: str) -> bytes:
    return WIRE_FORMATS[wire].text(PIECES, True).payload


def _decoded_text(decoder: StreamDecoder, pieces: list[bytes]) -> str:
    events = [event for piece in pieces for event in decoder.feed(piece)] + decoder.close()
    return "".join(event.text for event in events if isinstance(event, TextDelta))


@pytest.mark.parametrize("wire", sorted(DECODERS))
def test_a_stream_cut_at_every_byte_offset_decodes_to_the_text(wire: str) -> None:
    body = _stream(wire)
    assert TEXT.encode() in body or wire == "bedrock" or all(p.encode() in body for p in PIECES)  # raw, not \u
    for offset in range(len(body) + 1):
        assert _decoded_text(DECODERS[wire](), [body[:offset], body[offset:]]) == TEXT, offset


@pytest.mark.parametrize("wire", sorted(DECODERS))
def test_a_stream_read_one_byte_at_a_time_decodes_to_the_text(wire: str) -> None:
    body = _stream(wire)
    assert _decoded_text(DECODERS[wire](), [body[i:i + 1] for i in range(len(body))]) == TEXT


def test_a_character_cut_off_by_the_end_of_the_body_is_a_replacement_character() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: 你".encode()[:-1]) == []
    [event] = decoder.flush()
    assert event.data == "\ufffd"


def _cut_inside_characters(body: bytes) -> list[bytes]:
    """`body` cut before every UTF-8 continuation byte: each multi-byte character is split at each of its
    inner boundaries (the other offsets are the decoders' tests above)."""
    cuts = [0, *(i for i, byte in enumerate(body) if 0x80 <= byte <= 0xBF), len(body)]
    return [body[start:end] for start, end in itertools.pairwise(cuts) if end > start]


@pytest.mark.parametrize("wire", sorted(WIRE_FORMATS))
def test_characters_split_across_writes_arrive_intact_through_the_openai_sdk(wire: str, client: openai.OpenAI,
                                                                             fake_upstream: FakeUpstream) -> None:
    """The provider's stream is written in pieces that each end inside a character, a moment apart so that
    the gateway's reads end there too: the client gets every character whole, streamed and as the answer."""
    form = WIRE_FORMATS[wire]
    streamed = form.text(PIECES, True)
    pieces = _cut_inside_characters(streamed.payload)
    assert len(pieces) > 30
    fake_upstream.reply(Reply(streamed.status, streamed.headers, chunks=pieces, chunk_delay=0.002),
                        path=form.stream_path)
    with client.chat.completions.stream(model=form.model, messages=[{"role": "user", "content": "Grüß dich 👋"}]) as s:
        deltas = [event.delta for event in s if event.type == "content.delta"]
        final = s.get_final_completion()
    assert "".join(deltas) == TEXT
    assert final.choices[0].message.content == TEXT
    assert "Grüß dich 👋" in json.dumps(fake_upstream.requests[-1].json(), ensure_ascii=False)  # and up, too
