"""Incremental Server-Sent Events decoding (https://html.spec.whatwg.org/multipage/server-sent-events.html).

Bytes arrive in arbitrary pieces; events are separated by a blank line, with LF, CRLF or CR line ends
(Gemini sends CRLF). Comments (`:`) are dropped; multi-line `data:` fields are joined with newlines.
Providers send raw UTF-8 (not `\\u` escapes), and a network read may end inside a character: the bytes are
decoded incrementally, so a character split between two reads arrives whole.
"""

from __future__ import annotations

import codecs
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from msgspec import Struct

from lambdarouter.core.events import StreamEvent
from lambdarouter.providers.common import ErrorAfterEvents, malformed

# The C scanner `json.loads` ends in, called straight: an event's data is one JSON text, read per event of every
# stream, and `loads` → `decode` → `raw_decode` (two whitespace matches) is three Python calls more per event.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def json_value(text: str) -> Any:
    """`json.loads(text)`, read by the scanner alone when the text is one JSON value and nothing else (every
    provider's event data); anything else (whitespace around it, no JSON) the way `loads` reads or refuses it."""
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:  # no value at the first character
        end = -1
    return value if end == len(text) else json.loads(text)


class SSEEvent(Struct, frozen=True):
    event: str | None
    data: str


class SSEDecoder:
    def __init__(self) -> None:
        self._buffer = ""
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += self._text.decode(chunk)
        if "\r" in self._buffer or self._data or self._event is not None:
            return self._by_line()
        # LF line ends only (OpenAI, Anthropic, Bedrock's SSE), between events: every complete event at once, in
        # one split, rather than slicing the rest of the buffer off after each line. The lines of an event not
        # complete yet stay in the buffer, unread, until it is.
        *blocks, self._buffer = self._buffer.split("\n\n")
        return [event for block in blocks if (event := self._block(block)) is not None]

    def flush(self) -> list[SSEEvent]:
        """End of body: a last event without its blank line still counts."""
        self._buffer += self._text.decode(b"", final=True)  # a character cut off by the body's end: U+FFFD
        if self._buffer:
            self._buffer += "\n"
        events = self._by_line()
        event = self._line("")
        return [*events, event] if event is not None else events

    def _block(self, block: str) -> SSEEvent | None:
        """One complete event of LF-separated lines (its blank line already cut off)."""
        if block.startswith("data: ") and "\n" not in block:  # one data line: most events of every provider
            return SSEEvent(None, block[6:])
        for line in block.split("\n"):
            self._line(line)  # no blank line inside a block but a leading one, where nothing is pending
        return self._line("")

    def _by_line(self) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        while True:
            line, complete, rest = self._take_line(self._buffer)
            if not complete:
                return events
            self._buffer = rest
            event = self._line(line)
            if event is not None:
                events.append(event)

    @staticmethod
    def _take_line(buffer: str) -> tuple[str, bool, str]:
        """(line, complete, rest): the first line of `buffer` if its end has arrived."""
        lf, cr = buffer.find("\n"), buffer.find("\r")
        if cr == -1 or (lf != -1 and lf < cr):
            return (buffer[:lf], True, buffer[lf + 1 :]) if lf != -1 else (buffer, False, "")
        if cr + 1 == len(buffer):
            return buffer, False, ""  # wait: this CR may be the first half of a CRLF
        skip = 2 if buffer[cr + 1] == "\n" else 1
        return buffer[:cr], True, buffer[cr + skip :]

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            event = SSEEvent(self._event, "\n".join(self._data))
            self._event, self._data = None, []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


class SSEStreamDecoder(ABC):
    """A provider's SSE stream → events: each event's data to `_event`, an error raised only once the events
    before it were handed on (`ErrorAfterEvents`), and a body that ends before `_ended` says so is cut short
    (a retryable 502 naming the host)."""

    cut_short = "a stream that ended before its last event"

    def __init__(self, provider: str | None = None) -> None:
        self._provider = provider
        self._sse = SSEDecoder()
        self._errors = ErrorAfterEvents()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._errors.decode(self._sse.feed(chunk), lambda sse: self._event(sse.data))

    def close(self) -> list[StreamEvent]:
        events = self._errors.decode(self._sse.flush(), lambda sse: self._event(sse.data), final=True)
        if not self._ended():
            raise malformed(self.cut_short, self._provider)
        return events

    def _json_object(self, data: str, what: str) -> dict[str, Any]:
        """An event's data as the JSON object the provider promises, or a 502 naming what it sent."""
        try:
            value = json_value(data)
        except ValueError:
            raise malformed(f"a {what} that is not JSON", self._provider) from None
        if not isinstance(value, dict):
            raise malformed(f"a {what} that is not an object", self._provider)
        return value

    @abstractmethod
    def _event(self, data: str) -> list[StreamEvent]: ...

    @abstractmethod
    def _ended(self) -> bool: ...
