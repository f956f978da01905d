"""A streamed chat answer's chunks, written straight to the bytes the client is sent (`data: {chunk}\\n\\n`).

Every chunk of one generation starts the same way (`id`, `object`, `created`, `model`, `provider`), so that
head is encoded once per stream; per event only its choice is encoded, and a text delta, most of any stream,
is one string escape between two constant byte strings. Building each chunk as pydantic models and calling
`model_dump_json` cost more than everything else the gateway did per chunk (issue 20's profile). The bytes
are exactly what `ChatCompletionChunk` (the documented shape, answer_schema.py) serializes to without its null
fields, `finish_reason` kept: tests/test_stream_chunks.py holds the two together for every kind of event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    ImageDelta,
    LogprobsDelta,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
)
from lambdarouter.dialects.openrouter.answer import encode, usage_body
from lambdarouter.dialects.openrouter.assemble import Identity, error_type

# Raw UTF-8, as pydantic writes it and providers send it; `ensure_ascii` escapes only what UTF-8 cannot carry.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_encode_ascii = json.JSONEncoder(separators=(",", ":")).encode
_encode_string = json.encoder.encode_basestring  # the C escaper json.dumps uses for a str
_DELTA_END = b',"finish_reason":null}]}\n\n'


def _utf8(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (a provider may send `"\\ud83d"` alone: legal JSON, not UTF-8) is
    escaped as JSON instead (`\\ud83d`), so the client gets what the provider sent and the stream goes on."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("ascii", "backslashreplace")


def _json(value: Any) -> bytes:
    try:
        return _encode(value).encode()
    except UnicodeEncodeError:
        return _encode_ascii(value).encode()


def _image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def delta_of(event: StreamEvent) -> dict[str, Any] | None:
    """The `delta` that carries one event (None for events clients do not see, and for a finish)."""
    match event:
        case TextDelta(text):
            return {"content": text}
        case RefusalDelta(text):
            return {"refusal": text}
        case ReasoningDelta(text, detail):
            delta: dict[str, Any] = {} if text is None else {"reasoning": text}
            if detail:
                delta["reasoning_details"] = [detail]
            return delta
        case ImageDelta(url):
            return {"images": [_image(url)]}
        case ToolCallDelta(index, call_id, name, arguments):
            call: dict[str, Any] = {"index": index}
            if call_id is not None:
                call["id"] = call_id
            if call_id:
                call["type"] = "function"
            call["function"] = {"arguments": arguments} if name is None else {"name": name, "arguments": arguments}
            return {"tool_calls": [call]}
    return None


class ChunkWriter:
    """The chunks of one generation as bytes: its head encoded once, each event's choice as it comes."""

    def __init__(self, identity: Identity) -> None:
        self._head = (b'data: {"id":' + _json(identity.id) + b',"object":"chat.completion.chunk","created":'
                      + str(int(identity.created)).encode() + b',"model":' + _json(identity.model)
                      + b',"provider":' + _json(identity.provider) + b',"choices":')
        self._text = self._head + b'[{"index":0,"delta":{"content":'

    def events(self, events: Iterable[StreamEvent], first: bool) -> bytes:
        """One `data:` line per event the client sees, in order; the first carries `role` when `first`."""
        out: list[bytes] = []
        for event in events:
            if not first and type(event) is TextDelta:  # most of any stream: no dict, no encoder
                out.append(self._text + _utf8(_encode_string(event.text)) + b"}" + _DELTA_END)
                continue
            line = self._line(event, first)
            if line is not None:
                out.append(line)
                first = False
        return b"".join(out)

    def _line(self, event: StreamEvent, first: bool) -> bytes | None:
        role = {"role": "assistant"} if first else {}
        if isinstance(event, Finish):
            choice: dict[str, Any] = {"index": 0, "delta": role, "finish_reason": event.reason}
            if event.native is not None:
                choice["native_finish_reason"] = event.native
            return self._head + b"[" + _json(choice) + b"]}\n\n"
        if isinstance(event, LogprobsDelta):
            choice = {"index": 0, "delta": role, "logprobs": {"content": list(event.content)}, "finish_reason": None}
            return self._head + b"[" + _json(choice) + b"]}\n\n"
        delta = delta_of(event)
        if delta is None:
            return None
        return self._head + b'[{"index":0,"delta":' + _json({**role, **delta}) + _DELTA_END

    def usage(self, usage: TokenUsage, cost: Decimal) -> bytes:
        """The last data chunk of every stream: no choices, the usage and its cost."""
        return self._head + b'[],"usage":' + encode(usage_body(usage, cost)) + b"}\n\n"

    def error(self, error: GatewayError) -> bytes:
        """How a stream ends when the upstream fails after the first byte (OpenRouter's shape: the choice
        finishes with `error`, and `error.metadata.error_type` is one of its `ApiErrorType` values)."""
        metadata = dict(error.metadata or {})
        native = metadata.pop("error_type", None)  # a provider's own name for it (Bedrock's exception type)
        if native is not None:
            metadata.setdefault("provider_code", str(native))  # where OpenRouter's schema puts the provider's code
        metadata["error_type"] = error_type(error.status)
        body = {"code": error.status, "message": error.message, "metadata": metadata}
        return (self._head + b'[{"index":0,"delta":{"content":""},"finish_reason":"error"}],"error":'
                + _json(body) + b"}\n\n")
