"""The gateway's events as a Messages stream, and a whole message folded from that same stream.

Anthropic's stream (https://platform.claude.com/docs/en/build-with-claude/streaming): `message_start`, then per
content block `content_block_start`, its deltas (`text_delta`, `thinking_delta` + `signature_delta`,
`input_json_delta`) and `content_block_stop`, then `message_delta` (stop reason and the final usage, here with
the `cost` the ledger books) and `message_stop`. A non-streamed answer is the stream folded (`fold`), so the
two cannot drift apart. Events a Messages answer has no block for (generated images) are not shown; they are
still counted and charged by the books.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from msgspec import Struct, field

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    FinishReason,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
)
from lambdarouter.dialects.anthropic.reasoning import redacted_data, signature_of

Event = tuple[str, dict[str, Any]]  # (SSE event name, payload)

# The gateway's finish reason → Anthropic's stop_reason
# (https://platform.claude.com/docs/en/build-with-claude/handling-stop-reasons).
STOP_REASONS: Mapping[FinishReason, str] = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal",
    "error": "end_turn",
}
ANTHROPIC_STOP_REASONS = frozenset({"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                                    "model_context_window_exceeded"})


def stop_reason(finish: Finish | None) -> str:
    if finish is None:
        return "end_turn"
    if finish.native in ANTHROPIC_STOP_REASONS:
        return finish.native
    return STOP_REASONS.get(finish.reason, "end_turn")


def usage_body(usage: TokenUsage, cost: Decimal | None) -> dict[str, Any]:
    """TokenUsage (OpenAI semantics: prompt_tokens includes cache reads and writes) in Anthropic's terms, where
    `input_tokens` counts only the uncached part, `cache_creation` splits the writes by TTL and `server_tool_use`
    counts the server tools' uses; `cost` is the USD the ledger booked (OpenRouter's field)."""
    hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
    body: dict[str, Any] = {
        "input_tokens": max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": usage.cache_write_tokens - hour,
                           "ephemeral_1h_input_tokens": hour},
        "output_tokens": usage.completion_tokens,
    }
    if usage.web_search_requests or usage.web_fetch_requests:
        body["server_tool_use"] = {"web_search_requests": usage.web_search_requests,
                                   "web_fetch_requests": usage.web_fetch_requests}
    if cost is not None:
        body["cost"] = float(cost)
    return body


def frame(name: str, payload: Mapping[str, Any] | str) -> bytes:
    """One SSE event as Anthropic sends it: `event:` then `data:` (one line per line of the data)."""
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {data.replace(chr(10), chr(10) + 'data: ')}\n\n".encode()


def with_usage(message: Mapping[str, Any], usage: TokenUsage, cost: Decimal) -> dict[str, Any]:
    """A message (or message_delta) whose usage says what the books charged; the provider's other usage fields
    (service tier, server tool use, cache TTL breakdown) stay as it sent them."""
    return {**message, "usage": {**(message.get("usage") or {}), **usage_body(usage, cost)}}


def closing(upstream_delta: Mapping[str, Any] | None, usage: TokenUsage, cost: Decimal,
            failed: bool) -> list[Event]:
    """How a relayed stream ends: its `message_delta` (the provider's, else one without a stop reason) telling
    the booked usage and cost, then `message_stop` unless the stream failed (its error event follows)."""
    delta = upstream_delta or {"type": "message_delta", "delta": {"stop_reason": None, "stop_sequence": None}}
    out: list[Event] = [("message_delta", with_usage(delta, usage, cost))]
    if not failed:
        out.append(("message_stop", {"type": "message_stop"}))
    return out


def message_shell(message_id: str, model: str) -> dict[str, Any]:
    return {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage_body(TokenUsage(), None)}


class _Open(Struct):
    kind: str  # text | thinking | tool_use
    index: int
    tool: int | None = None  # the gateway's tool-call index of a tool_use block


class MessageRenderer(Struct):
    """One answer's events → its Messages stream events, in order. Not thread-safe; one per answer."""

    message_id: str
    model: str
    started: bool = False
    blocks: int = 0
    open: _Open | None = None
    closed_tools: set[int] = field(default_factory=set)
    finish: Finish | None = None

    def feed(self, event: StreamEvent) -> list[Event]:
        out = self._start()
        match event:
            case TextDelta(text) | RefusalDelta(text):
                if text:
                    out += self._ensure("text", {"type": "text", "text": ""})
                    out.append(self._delta({"type": "text_delta", "text": text}))
            case ReasoningDelta(text, detail):
                out += self._reasoning(text, detail)
            case ToolCallDelta():
                out += self._tool(event)
            case Finish():
                self.finish = event
        return out

    def end(self, usage: TokenUsage, cost: Decimal, error: GatewayError | None) -> list[Event]:
        """After the last event: the open block closed, the stop reason and booked usage, `message_stop`; a stream
        that failed ends with the usage it was charged (no stop reason) and then its error."""
        delta = {"stop_reason": None if error else stop_reason(self.finish), "stop_sequence": None}
        return [*self._start(), *self._close(),
                *closing({"type": "message_delta", "delta": delta}, usage, cost, error is not None)]

    def _start(self) -> list[Event]:
        if self.started:
            return []
        self.started = True
        return [("message_start", {"type": "message_start", "message": message_shell(self.message_id, self.model)})]

    def _ensure(self, kind: str, block: dict[str, Any], tool: int | None = None) -> list[Event]:
        if self.open is not None and self.open.kind == kind and self.open.tool == tool:
            return []
        out = self._close()
        self.open = _Open(kind, self.blocks, tool)
        self.blocks += 1
        out.append(("content_block_start", {"type": "content_block_start", "index": self.open.index,
                                            "content_block": block}))
        return out

    def _close(self) -> list[Event]:
        if self.open is None:
            return []
        index, tool = self.open.index, self.open.tool
        if tool is not None:
            self.closed_tools.add(tool)
        self.open = None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _delta(self, delta: dict[str, Any]) -> Event:
        assert self.open is not None
        return "content_block_delta", {"type": "content_block_delta", "index": self.open.index, "delta": delta}

    def _reasoning(self, text: str | None, detail: dict[str, Any] | None) -> list[Event]:
        if detail is not None and detail.get("type") not in ("reasoning.text", "reasoning.summary"):
            # An encrypted entry is a block of its own: redacted_thinking, whole in its start event.
            out = self._ensure("redacted", {"type": "redacted_thinking", "data": redacted_data(detail)})
            return out + self._close()
        was_open = self.open is not None and self.open.kind == "thinking"
        out = self._ensure("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        shown = text or (detail.get("text") if detail is not None and not was_open else None)
        if isinstance(shown, str) and shown:
            out.append(self._delta({"type": "thinking_delta", "thinking": shown}))
        if detail is not None and detail.get("type") == "reasoning.text":
            signature = signature_of(detail)
            if signature:
                out.append(self._delta({"type": "signature_delta", "signature": signature}))
            out += self._close()  # the entry is the whole block: its signature comes last
        return out

    def _tool(self, event: ToolCallDelta) -> list[Event]:
        if event.index in self.closed_tools:
            raise GatewayError(502, "The provider streamed a tool call's arguments after another call had started.",
                               retryable=True)
        out: list[Event] = []
        if self.open is None or self.open.tool != event.index:
            call_id = event.id or f"toolu_{secrets.token_hex(12)}"
            block = {"type": "tool_use", "id": call_id, "name": event.name or "", "input": {}}
            out += self._ensure("tool_use", block, event.index)
        if event.arguments:
            out.append(self._delta({"type": "input_json_delta", "partial_json": event.arguments}))
        return out


def fold(events: list[Event]) -> dict[str, Any]:
    """A whole Message from its stream events, as the Anthropic SDKs accumulate one."""
    message: dict[str, Any] = {}
    arguments: dict[int, list[str]] = {}
    for name, payload in events:
        if name == "message_start":
            message = {**payload["message"], "content": []}
        elif name == "content_block_start":
            message["content"].append(dict(payload["content_block"]))
        elif name == "content_block_delta":
            _apply(message["content"][payload["index"]], payload["delta"], arguments.setdefault(payload["index"], []))
        elif name == "content_block_stop":
            block = message["content"][payload["index"]]
            if block["type"] == "tool_use":
                block["input"] = _tool_input("".join(arguments.get(payload["index"], ())))
        elif name == "message_delta":
            message.update(payload["delta"])
            message["usage"] = payload["usage"]
    return message


def _apply(block: dict[str, Any], delta: dict[str, Any], arguments: list[str]) -> None:
    kind = delta["type"]
    if kind == "text_delta":
        block["text"] += delta["text"]
    elif kind == "thinking_delta":
        block["thinking"] += delta["thinking"]
    elif kind == "signature_delta":
        block["signature"] = delta["signature"]
    elif kind == "input_json_delta":
        arguments.append(delta["partial_json"])


def _tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's streamed arguments as the object `tool_use.input` must be."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise GatewayError(502, "The provider sent tool call arguments that are not a JSON object.", retryable=True)
    return value
