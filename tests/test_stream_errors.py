"""An error event in the same piece of a stream as the text before it: the text still reaches the client.

How a body is cut into pieces depends on TCP and on the HTTP client (aiohttp hands over all that arrived,
httpx what one read returned), so each decoder must give the same events whether the error comes in a
piece of its own or together with what preceded it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import TextDelta
from lambdarouter.providers.anthropic.stream import AnthropicStreamDecoder
from lambdarouter.providers.base import StreamDecoder
from lambdarouter.providers.gemini.stream import GeminiStreamDecoder
from lambdarouter.providers.openai.chat import OpenAIStreamDecoder


def data(payload: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


OPENAI = [data({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"content": "Hello"}}]}),
          data({"error": {"message": "overloaded"}})]
ANTHROPIC = [data({"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}},
                  "message_start"),
             data({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                  "content_block_start"),
             data({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
                  "content_block_delta"),
             data({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")]
GEMINI = [data({"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "Hello"}]}}]}),
          data({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})]
CASES: dict[str, tuple[Callable[[], StreamDecoder], list[bytes]]] = {
    "openai": (OpenAIStreamDecoder, OPENAI), "anthropic": (AnthropicStreamDecoder, ANTHROPIC),
    "gemini": (GeminiStreamDecoder, GEMINI)}


def text_then_error(decoder: StreamDecoder, pieces: list[bytes]) -> tuple[str, GatewayError]:
    """The text decoded until the decoder raised (in `feed` or `close`), and what it raised."""
    text: list[str] = []
    try:
        for piece in pieces:
            text += [e.text for e in decoder.feed(piece) if isinstance(e, TextDelta)]
        decoder.close()
    except GatewayError as exc:
        return "".join(text), exc
    raise AssertionError("the error was never raised")


@pytest.mark.parametrize("wire", list(CASES))
def test_the_text_before_an_error_arrives_however_the_stream_is_cut(wire: str) -> None:
    make, events = CASES[wire]
    apart = text_then_error(make(), events)
    together = text_then_error(make(), [b"".join(events)])
    assert apart[0] == together[0] == "Hello"
    assert (apart[1].status, apart[1].message) == (together[1].status, together[1].message)


@pytest.mark.parametrize("wire", list(CASES))
def test_a_held_error_is_raised_by_the_next_feed_too(wire: str) -> None:
    decoder = CASES[wire][0]()
    assert decoder.feed(b"".join(CASES[wire][1]))
    with pytest.raises(GatewayError):
        decoder.feed(b"\n")
