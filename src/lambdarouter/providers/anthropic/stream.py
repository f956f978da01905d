"""Anthropic Messages streaming (https://platform.claude.com/docs/en/build-with-claude/streaming) → events.

The stream is `message_start`, then per content block `content_block_start` / `content_block_delta`… /
`content_block_stop`, then `message_delta` (stop_reason, cumulative usage) and `message_stop`; `ping`
events may come anywhere and an `error` event may replace the rest. Anthropic's versioning policy says new
event and delta types may be added, so unknown ones are ignored, not errors.

Tool calls are keyed by content-block index, which also counts text and thinking blocks: `ToolCallIndexer`
turns them into the dense 0-based indices OpenAI clients expect. A thinking block's text streams as
reasoning deltas; its signature arrives last, so the block's reasoning_details entry (text + signature,
what the client sends back) is emitted once, when the block stops.
"""

from __future__ import annotations

import json
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from lambdarouter.core.events import (
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from lambdarouter.providers.anthropic.response import (
    encrypted_detail,
    error_event,
    finish,
    info,
    text_detail,
    usage_from,
)
from lambdarouter.providers.base import parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.sse import SSEStreamDecoder
from lambdarouter.providers.toolcalls import ToolCallIndexer

# A server tool's result block, by the usage count that bills it: the results seen are what message_delta's
# `server_tool_use` will report, and what a stream cut before it is charged for. A use that failed (its result an
# error object) is not billed (https://platform.claude.com/docs/en/agents-and-tools/tool-use/web-search-tool).
SERVER_TOOL_RESULTS = {"web_search_tool_result": "web_search_requests", "web_fetch_tool_result": "web_fetch_requests"}


class _Block(Struct):
    kind: str
    tool_index: int | None = None
    has_arguments: bool = False
    thinking: list[str] = field(default_factory=list)
    signature: str | None = None


class AnthropicStreamDecoder(SSEStreamDecoder):
    cut_short = "a stream that ended before its message_stop event"

    def __init__(self, provider: str | None = None) -> None:
        super().__init__(provider)
        self._tools = ToolCallIndexer()
        self._blocks: dict[int, _Block] = {}
        self._usage: dict[str, Any] = {}  # raw usage fields, later reports overriding earlier ones
        self._tool_uses: dict[str, int] = {}  # server-tool results seen, by SERVER_TOOL_RESULTS' count
        self._details = 0
        self._finished = False
        self._stopped = False

    def _ended(self) -> bool:
        # message_delta carries the stop reason; without it (or message_stop) the answer is cut short.
        return self._finished or self._stopped

    def _event(self, data: str) -> list[StreamEvent]:
        if not data:
            return []
        payload = self._json_object(data, "stream event")
        kind = payload.get("type")
        if kind == "error":
            raise error_event(payload, self._provider)
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        return handler(self, payload) if handler is not None else []  # ping and unknown events

    def whole(self, message: dict[str, Any]) -> list[StreamEvent]:
        """A whole Message read as the stream that would have carried it: its start, each content block
        started whole and stopped, its stop reason and usage. One reading for both, so they cannot drift."""
        events = self._message_start({"message": {k: v for k, v in message.items() if k != "usage"}})
        for index, block in enumerate(message["content"]):
            events.extend(self._block_start({"index": index, "content_block": block}, whole=True))
            events.extend(self._block_stop({"index": index}))
        events.extend(self._message_delta({"delta": {"stop_reason": message.get("stop_reason")},
                                           "usage": message.get("usage")}))
        return events

    def _message_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        message = payload.get("message") or {}
        events: list[StreamEvent] = [info(message)]
        usage = message.get("usage")
        if isinstance(usage, dict):
            # Its `output_tokens` is a placeholder (1 in every recorded stream, tests/recordings/anthropic): the
            # count comes with message_delta. Taken as a report, a stream cut before that would be charged one
            # output token whatever it produced, instead of the estimate from what it did (budget.fill_usage).
            usage = {name: value for name, value in usage.items() if name != "output_tokens"}
        events.extend(self._usage_report(usage))
        return events

    def _block_start(self, payload: dict[str, Any], whole: bool = False) -> list[StreamEvent]:
        """A block's start; `whole`: a block of a whole Message, whose payload is all there is (a streamed
        tool_use starts with an empty `input` its deltas fill, a whole one has it)."""
        index, block = _index(payload), payload.get("content_block") or {}
        state = self._blocks[index] = _Block(str(block.get("type")))
        if state.kind == "tool_use":
            state.tool_index = self._tools.start(index)
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False) if whole else ""
            state.has_arguments = whole
            return [ToolCallDelta(state.tool_index, block.get("id"), block.get("name"), arguments)]
        if state.kind == "text" and block.get("text"):
            return [TextDelta(block["text"])]
        if state.kind == "thinking":
            state.signature = block.get("signature") if whole else None
            if block.get("thinking"):
                state.thinking.append(block["thinking"])
                return [ReasoningDelta(text=block["thinking"])]
        if state.kind == "redacted_thinking":
            return [ReasoningDelta(detail=encrypted_detail(str(block.get("data") or ""), self._next_detail()))]
        if state.kind in SERVER_TOOL_RESULTS:
            return self._tool_result(SERVER_TOOL_RESULTS[state.kind], block.get("content"))
        return []

    def _tool_result(self, count: str, content: Any) -> list[StreamEvent]:
        if isinstance(content, dict) and str(content.get("type") or "").endswith("_error"):
            return []
        self._tool_uses[count] = self._tool_uses.get(count, 0) + 1
        return self._usage_report({})

    def _block_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        state, delta = self._blocks.get(_index(payload)), payload.get("delta") or {}
        kind = delta.get("type")
        if state is None:
            raise malformed("a content_block_delta for a block that never started", self._provider)
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(delta["text"])]
        if kind == "input_json_delta" and state.tool_index is not None and delta.get("partial_json"):
            state.has_arguments = True
            return [ToolCallDelta(state.tool_index, arguments=delta["partial_json"])]
        if kind == "thinking_delta" and delta.get("thinking"):
            state.thinking.append(delta["thinking"])
            return [ReasoningDelta(text=delta["thinking"])]
        if kind == "signature_delta":
            state.signature = (state.signature or "") + str(delta.get("signature") or "")
        return []  # citations_delta and newer delta types carry nothing the OpenAI answer has

    def _block_stop(self, payload: dict[str, Any]) -> list[StreamEvent]:
        state = self._blocks.get(_index(payload))
        if state is None:
            return []
        if state.kind == "tool_use" and state.tool_index is not None and not state.has_arguments:
            # A call without arguments streams no JSON at all; OpenAI clients parse the arguments string.
            return [ToolCallDelta(state.tool_index, arguments="{}")]
        if state.kind == "thinking":
            detail = text_detail("".join(state.thinking), state.signature, self._next_detail())
            return [ReasoningDelta(detail=detail)]
        return []

    def _message_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        stop_reason = (payload.get("delta") or {}).get("stop_reason")
        if stop_reason:
            self._finished = True
            events.append(finish(stop_reason))
        events.extend(self._usage_report(payload.get("usage")))
        return events

    def _message_stop(self, payload: dict[str, Any]) -> list[StreamEvent]:
        self._stopped = True
        return []

    def _usage_report(self, usage: Any) -> list[StreamEvent]:
        # message_delta's usage is cumulative but may list only output_tokens (older API versions): keep the
        # fields message_start reported and let later values override them.
        if not isinstance(usage, dict):
            return []
        self._usage.update({k: v for k, v in usage.items() if v is not None})
        reported = usage_from(self._usage)
        if self._tool_uses:  # before message_delta's count (or without one), the results seen are the count
            seen = {count: max(uses, getattr(reported, count)) for count, uses in self._tool_uses.items()}
            reported = replace(reported, **seen)
        return [UsageReport(reported)]

    def _next_detail(self) -> int:
        self._details += 1
        return self._details - 1


def parse_message(body: bytes, provider: str | None = None) -> list[StreamEvent]:
    """A whole Message, read by the stream's own decoder (`AnthropicStreamDecoder.whole`)."""
    data = parse_json_body(body)
    if isinstance(data, dict) and data.get("type") == "error":
        raise error_event(data, provider)
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise malformed("a response that is not an Anthropic message", provider)
    return AnthropicStreamDecoder(provider).whole(data)


def _index(payload: dict[str, Any]) -> int:
    index = payload.get("index")
    if not isinstance(index, int):
        raise malformed(f"a {payload.get('type')} event without a block index")
    return index


_HANDLERS = {
    "message_start": AnthropicStreamDecoder._message_start,
    "content_block_start": AnthropicStreamDecoder._block_start,
    "content_block_delta": AnthropicStreamDecoder._block_delta,
    "content_block_stop": AnthropicStreamDecoder._block_stop,
    "message_delta": AnthropicStreamDecoder._message_delta,
    "message_stop": AnthropicStreamDecoder._message_stop,
}
