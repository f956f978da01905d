"""Bedrock Converse answers → gateway events: the whole JSON response and the ConverseStream event stream.

ConverseStream answers `application/vnd.amazon.eventstream`: binary frames (prelude with lengths and a
CRC, headers, JSON payload, message CRC; https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html)
decoded here with botocore's own incremental `EventStreamBuffer`, fed as bytes arrive. Event types
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html): messageStart,
contentBlockStart (a tool call's id and name), contentBlockDelta (text, tool input JSON fragments,
reasoningContent text / signature / redactedContent), contentBlockStop, messageStop (stopReason), then
metadata (usage, metrics) last. Every payload carries a random `p` padding field (against traffic
analysis), ignored. Unknown event types are ignored so new Bedrock features never break a stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError
from msgspec import Struct, field

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    FinishReason,
    MalformedEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UsageReport,
    token_count,
)
from lambdarouter.providers import common
from lambdarouter.providers.base import parse_json_body
from lambdarouter.providers.bedrock.errors import stream_exception
from lambdarouter.providers.bedrock.messages import REASONING_FORMAT
from lambdarouter.providers.toolcalls import ToolCallIndexer

# Converse `stopReason` → the gateway's finish reason (StopReason enum of the Converse API reference).
STOP_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}


def finish(native: str) -> Finish:
    return Finish(STOP_REASONS.get(native, "stop"), native)


def _count(usage: Mapping[str, Any], *names: str) -> int:
    """The first of `names` present (Bedrock also sends the older `...Count` spellings)."""
    for name in names:
        if name in usage:
            return token_count(usage[name], name)
    return 0


def usage_from(usage: Mapping[str, Any]) -> TokenUsage:
    """Converse TokenUsage → OpenAI semantics: `inputTokens` excludes cache reads and writes, which
    Bedrock reports apart (cacheReadInputTokens, cacheWriteInputTokens); prompt_tokens is their sum.
    Bedrock reports no separate reasoning count: reasoning is inside outputTokens. `cacheDetails` splits the
    writes by TTL, `[{"ttl": "5m" | "1h", "inputTokens"}]`
    (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CacheDetail.html)."""
    read = _count(usage, "cacheReadInputTokens", "cacheReadInputTokenCount")
    write = _count(usage, "cacheWriteInputTokens", "cacheWriteInputTokenCount")
    details = usage.get("cacheDetails") or []
    if not isinstance(details, list) or not all(isinstance(d, dict) for d in details):
        raise MalformedEvent("usage.cacheDetails is not a list of objects")
    by_ttl = [(d.get("ttl"), token_count(d.get("inputTokens"), "usage.cacheDetails.inputTokens")) for d in details]
    write = max(write, sum(tokens for _, tokens in by_ttl))
    return TokenUsage(prompt_tokens=_count(usage, "inputTokens") + read + write,
                      completion_tokens=_count(usage, "outputTokens"), cached_tokens=read, cache_write_tokens=write,
                      cache_write_1h_tokens=sum(tokens for ttl, tokens in by_ttl if ttl == "1h"))


def reasoning_text_detail(text: str, signature: str | None, index: int) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": "reasoning.text", "text": text}
    if signature:
        detail["signature"] = signature
    return {**detail, "format": REASONING_FORMAT, "index": index}


def reasoning_encrypted_detail(data: str, index: int) -> dict[str, Any]:
    return {"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT, "index": index}


# The host of the decoders built without one (tests): Bedrock's own.
DEFAULT_PROVIDER = "amazon-bedrock"


def parse_converse(body: bytes, provider: str | None = None) -> list[StreamEvent]:
    """A Converse response body (`output.message.content` blocks, `stopReason`, `usage`), read by the
    ConverseStream decoder (`BedrockStreamDecoder.whole`)."""
    data = parse_json_body(body)
    output = data.get("output") if isinstance(data, dict) else None
    message = output.get("message") if isinstance(output, dict) else None
    if not isinstance(data, dict) or not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise common.malformed("a response without output.message.content", provider or DEFAULT_PROVIDER)
    return BedrockStreamDecoder(provider).whole(data)


class _Reasoning(Struct):
    """One streamed reasoning block: its text so far and its signature, released at contentBlockStop."""

    index: int
    text: list[str] = field(default_factory=list)
    signature: str | None = None
    redacted: bool = False


class BedrockStreamDecoder:
    """Incremental ConverseStream decoding; `close()` insists on messageStop and the metadata (usage).

    A stream exception frame (or a corrupt frame) becomes a `GatewayError`: the events decoded before it
    in the same piece are still returned, and the error is raised on the next `feed` or on `close`, so
    nothing the client was owed is dropped.
    """

    def __init__(self, provider: str | None = None) -> None:
        self._provider = provider or DEFAULT_PROVIDER
        self._buffer = EventStreamBuffer()
        self._fed = self._consumed = 0
        self._tools = ToolCallIndexer()
        self._reasoning: dict[Any, _Reasoning] = {}  # by contentBlockIndex
        self._reasoning_count = 0
        self._stopped = self._metadata = False
        self._error: GatewayError | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], list[StreamEvent]]] = {
            "contentBlockStart": self._block_start,
            "contentBlockDelta": self._block_delta,
            "contentBlockStop": self._block_stop,
            "messageStop": self._message_stop,
            "metadata": self._metadata_event,
        }

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        if self._error is not None:
            raise self._error
        self._fed += len(chunk)
        self._buffer.add_data(chunk)
        events: list[StreamEvent] = []
        try:
            for message in self._buffer:
                self._consumed += message.prelude.total_length
                events.extend(self._frame(message))
                if self._error is not None:
                    break
        except ParserError as exc:  # a bad CRC or length: the rest of the stream cannot be trusted
            self._error = self._malformed(f"a corrupt event-stream frame ({type(exc).__name__})")
        if self._error is not None and not events:
            raise self._error
        return events

    def close(self) -> list[StreamEvent]:
        if self._error is not None:
            raise self._error
        if self._fed != self._consumed:
            raise self._malformed("a stream that ended inside an event-stream frame")
        if not self._stopped:
            raise self._malformed("a stream that ended before its messageStop event")
        if not self._metadata:
            # metadata always follows messageStop and carries the usage the generation is billed by.
            raise self._malformed("a stream that ended before its metadata (usage) event")
        return []

    def _frame(self, message: EventStreamMessage) -> list[StreamEvent]:
        headers = message.headers
        kind = headers.get(":message-type")
        if kind in ("exception", "error"):
            self._error = stream_exception(headers, message.payload, self._provider)
            return []
        handler = self._handlers.get(headers.get(":event-type", "")) if kind == "event" else None
        if handler is None:
            return []  # messageStart and event types this gateway does not know
        try:
            payload = json.loads(message.payload)
        except ValueError:
            self._error = self._malformed(f"a {headers.get(':event-type')} event whose payload is not JSON")
            return []
        return handler(payload) if isinstance(payload, dict) else []

    def _malformed(self, what: str) -> GatewayError:
        return common.malformed(what, self._provider)

    def whole(self, data: dict[str, Any]) -> list[StreamEvent]:
        """A whole Converse answer read as the ConverseStream events that would have carried it: each content
        block as its start (a tool call whole), its delta and its stop, then messageStop and metadata. One
        reading for both, so the two answers cannot drift apart."""
        events: list[StreamEvent] = []
        for index, block in enumerate(data["output"]["message"]["content"]):
            if not isinstance(block, dict):
                continue
            if isinstance(tool := block.get("toolUse"), dict):
                events.extend(self._block_start({"contentBlockIndex": index, "start": {"toolUse": tool}}, whole=True))
            elif isinstance(reasoning := block.get("reasoningContent"), dict):
                text = reasoning.get("reasoningText")
                delta = text if isinstance(text, dict) else {"redactedContent": reasoning.get("redactedContent")}
                events.extend(self._reasoning_delta(index, delta))
            else:  # text; citations, images and server-tool results have no OpenAI counterpart
                events.extend(self._block_delta({"contentBlockIndex": index, "delta": block}))
            events.extend(self._block_stop({"contentBlockIndex": index}))
        if isinstance(data.get("stopReason"), str):
            events.extend(self._message_stop(data))
        if isinstance(data.get("usage"), dict):
            events.extend(self._metadata_event(data))
        return events

    def _block_start(self, event: dict[str, Any], whole: bool = False) -> list[StreamEvent]:
        """A tool call's start; `whole`: a call of a whole answer, which carries its `input` (a streamed one
        gets it in deltas)."""
        tool = (event.get("start") or {}).get("toolUse")
        if not isinstance(tool, dict):
            return []
        index = self._tools.start(event.get("contentBlockIndex"))
        arguments = json.dumps(tool.get("input", {}), ensure_ascii=False) if whole else ""
        return [ToolCallDelta(index, tool.get("toolUseId"), tool.get("name"), arguments)]

    def _block_delta(self, event: dict[str, Any]) -> list[StreamEvent]:
        delta = event.get("delta") or {}
        block = event.get("contentBlockIndex")
        if isinstance(delta.get("text"), str):
            return [TextDelta(delta["text"])] if delta["text"] else []
        if isinstance(tool := delta.get("toolUse"), dict):
            fragment = tool.get("input") or ""
            return [ToolCallDelta(self._tools.lookup(block), arguments=fragment)] if fragment else []
        if isinstance(reasoning := delta.get("reasoningContent"), dict):
            return self._reasoning_delta(block, reasoning)
        return []  # citation, image and server-tool deltas have no OpenAI counterpart

    def _reasoning_delta(self, block: Any, delta: Mapping[str, Any]) -> list[StreamEvent]:
        state = self._reasoning.get(block)
        if state is None:
            state = self._reasoning[block] = _Reasoning(self._reasoning_count)
            self._reasoning_count += 1
        if isinstance(delta.get("redactedContent"), str):
            state.redacted = True
            return [ReasoningDelta(detail=reasoning_encrypted_detail(delta["redactedContent"], state.index))]
        if isinstance(delta.get("signature"), str):
            state.signature = delta["signature"]
        if isinstance(delta.get("text"), str) and delta["text"]:
            state.text.append(delta["text"])
            return [ReasoningDelta(text=delta["text"])]
        return []

    def _block_stop(self, event: dict[str, Any]) -> list[StreamEvent]:
        state = self._reasoning.pop(event.get("contentBlockIndex"), None)
        if state is None or state.redacted:
            return []
        # The whole block (text + signature) as one reasoning_details entry: what a client sends back.
        return [ReasoningDelta(detail=reasoning_text_detail("".join(state.text), state.signature, state.index))]

    def _message_stop(self, event: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for block in list(self._reasoning):
            events.extend(self._block_stop({"contentBlockIndex": block}))
        self._stopped = True
        native = event.get("stopReason")
        events.append(finish(native if isinstance(native, str) else "end_turn"))
        return events

    def _metadata_event(self, event: dict[str, Any]) -> list[StreamEvent]:
        self._metadata = True
        usage = event.get("usage")
        return [UsageReport(usage_from(usage))] if isinstance(usage, dict) else []
