"""The gateway's events → a Responses answer: its output items, its streamed events with sequence numbers, and
the lifecycle events around them (`response.created`, `response.in_progress`, then `response.completed`,
`response.incomplete` or `response.failed`).

One renderer serves both deliveries: a stream sends what `render` returns as the events arrive; a whole
answer is the fold of the same events (`output`), so the two cannot drift apart. Text and reasoning items
close when another item starts; function calls stay open until the answer ends, because an OpenAI-compatible
host may interleave the argument pieces of parallel calls.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from lambdarouter.dialects.openrouter.assemble import Identity
from lambdarouter.dialects.responses.answer import response_body, status_of
from lambdarouter.dialects.responses.output import Event, FunctionCall, Item, ItemStatus, Message, Reasoning

# A function name the translation flattened (a namespace's function) → (namespace, name) as the client named it.
ToolNames = Mapping[str, tuple[str, str]]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class ResponseRenderer:
    def __init__(self, echo: Mapping[str, Any], tool_names: ToolNames | None = None, *,
                 show_reasoning: bool = True) -> None:
        self.echo = echo
        self.tool_names: ToolNames = tool_names or {}
        self.show_reasoning = show_reasoning  # OpenRouter's `reasoning.exclude`: paid for, not shown
        self.items: list[Item] = []
        self.finish: Finish | None = None
        self._open: Message | Reasoning | None = None
        self._calls: dict[int, FunctionCall] = {}
        self._call_ids: set[str] = set()
        self._closed: dict[int, ItemStatus] = {}  # output_index → the status it was closed with
        self._sequence = 0
        self.started = False

    # -- the stream --------------------------------------------------------------------------------------------
    def render(self, identity: Identity, event: StreamEvent) -> list[Event]:
        """The streamed events one gateway event becomes (numbered); [] for what a client does not see."""
        events = self._events(event)
        if events and not self.started:
            self.started = True
            events = [*self.opening(identity), *events]
        return self.numbered(events)

    def opening(self, identity: Identity) -> list[Event]:
        body = response_body(identity, self.echo, "in_progress", [])
        return [{"type": "response.created", "response": body}, {"type": "response.in_progress", "response": body}]

    def ending(self, identity: Identity, usage: dict[str, Any] | None, error: GatewayError | None,
               completed_at: int) -> list[Event]:
        """What ends the stream (numbered): the open items closed, then the terminal lifecycle event."""
        events = [] if self.started else self.opening(identity)
        self.started = True
        events.extend(self.close_all(error))
        body = self.response(identity, usage, error, completed_at)
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(body["status"],
                                                                                           "response.failed")
        events.append({"type": kind, "response": body})
        return self.numbered(events)

    def numbered(self, events: list[Event]) -> list[Event]:
        for event in events:
            event["sequence_number"] = self._sequence
            self._sequence += 1
        return events

    # -- the answer --------------------------------------------------------------------------------------------
    def response(self, identity: Identity, usage: dict[str, Any] | None, error: GatewayError | None,
                 completed_at: int) -> dict[str, Any]:
        """The `response` object of everything rendered so far (close the items first: `close_all`)."""
        status = status_of(self.finish, error)
        ending = self._item_status(error)
        output = [item.final(self._closed.get(item.index, ending)) for item in self.items]
        return response_body(identity, self.echo, status, output, usage, finish=self.finish, error=error,
                             completed_at=completed_at)

    def close_all(self, error: GatewayError | None = None) -> list[Event]:
        events: list[Event] = []
        for item in self.items:
            events.extend(self._close(item, self._item_status(error)))
        self._open = None
        return events

    def _item_status(self, error: GatewayError | None) -> ItemStatus:
        return "completed" if status_of(self.finish, error) == "completed" else "incomplete"

    # -- one event ---------------------------------------------------------------------------------------------
    def _events(self, event: StreamEvent) -> list[Event]:
        match event:
            case TextDelta(text) if text:
                return self._message_delta("output_text", text)
            case RefusalDelta(text) if text:
                return self._message_delta("refusal", text)
            case ReasoningDelta(text, detail) if self.show_reasoning:
                return self._reasoning(text, detail)
            case ToolCallDelta(index, call_id, name, arguments):
                return self._call(index, call_id, name, arguments)
            case Finish():
                self.finish = event
        return []

    def _message_delta(self, kind: Any, text: str) -> list[Event]:
        events: list[Event] = []
        if not isinstance(self._open, Message):
            events.extend(self._start(Message(len(self.items), _new_id("msg"))))
        assert isinstance(self._open, Message)
        return [*events, *self._open.delta(kind, text)]

    def _reasoning(self, text: str | None, detail: dict[str, Any] | None) -> list[Event]:
        events: list[Event] = []
        if not text and detail is None:
            return events
        if not isinstance(self._open, Reasoning):
            events.extend(self._start(Reasoning(len(self.items), _new_id("rs"))))
        assert isinstance(self._open, Reasoning)
        if text:
            events.extend(self._open.delta(text))
        if detail is not None:
            self._open.details.append(detail)
        return events

    def _call(self, index: int, call_id: str | None, name: str | None, arguments: str) -> list[Event]:
        events: list[Event] = []
        call = self._calls.get(index)
        if call is None:
            namespace, plain = self.tool_names.get(name or "", (None, name or ""))
            call = FunctionCall(len(self.items), _new_id("fc"), self._unique_call_id(call_id), plain, namespace)
            self._calls[index] = call
            events.extend(self._start(call))
        elif name and not call.name:
            call.namespace, call.name = self.tool_names.get(name, (None, name))
        if arguments:
            events.extend(call.delta(arguments))
        return events

    def _unique_call_id(self, call_id: str | None) -> str:
        """The provider's call id, or a new one: the client answers by it, so two calls must not share one."""
        chosen = call_id if call_id and call_id not in self._call_ids else _new_id("call")
        self._call_ids.add(chosen)
        return chosen

    def _start(self, item: Item) -> list[Event]:
        """A new item: the open text or reasoning item is done before it."""
        events: list[Event] = []
        if self._open is not None:
            events.extend(self._close(self._open, "completed"))
            self._open = None
        self.items.append(item)
        if isinstance(item, Message | Reasoning):
            self._open = item
        events.append({"type": "response.output_item.added", "output_index": item.index, "item": item.added()})
        return events

    def _close(self, item: Item, status: ItemStatus) -> list[Event]:
        if item.index in self._closed:
            return []
        self._closed[item.index] = status
        return [*item.closing(status),
                {"type": "response.output_item.done", "output_index": item.index, "item": item.final(status)}]
