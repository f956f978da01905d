"""Output items under construction: a message, a reasoning item, a function call.

Each item knows the item a stream announces (`response.output_item.added`), the events that stream a delta
into it, the events that close it, and the finished item (`response.output_item.done`, and `output` of the
response). Shapes: https://platform.openai.com/docs/api-reference/responses-streaming, checked against the
`openai` SDK's event types; the stream's order of events is OpenAI's.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct, field

from lambdarouter.dialects.responses.reasoning import carry

Event = dict[str, Any]
ItemStatus = Literal["completed", "incomplete"]


class Item(Struct):
    index: int  # output_index
    id: str

    def added(self) -> dict[str, Any]:
        raise NotImplementedError

    def closing(self, status: ItemStatus) -> list[Event]:
        """The events that close the item's parts (before `response.output_item.done`)."""
        return []

    def final(self, status: ItemStatus) -> dict[str, Any]:
        raise NotImplementedError

    def _where(self) -> Event:
        return {"item_id": self.id, "output_index": self.index}


class _Part(Struct):
    kind: Literal["output_text", "refusal"]
    pieces: list[str] = field(default_factory=list)

    def body(self, text: str) -> dict[str, Any]:
        if self.kind == "refusal":
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class Message(Item):
    parts: list[_Part] = field(default_factory=list)

    def added(self) -> dict[str, Any]:
        return {"type": "message", "id": self.id, "role": "assistant", "status": "in_progress", "content": []}

    def delta(self, kind: Literal["output_text", "refusal"], text: str) -> list[Event]:
        events: list[Event] = []
        if not self.parts or self.parts[-1].kind != kind:
            events.extend(self._close_last())
            self.parts.append(_Part(kind))
            events.append({"type": "response.content_part.added", **self._where(),
                           "content_index": len(self.parts) - 1, "part": self.parts[-1].body("")})
        self.parts[-1].pieces.append(text)
        delta_type = "response.output_text.delta" if kind == "output_text" else "response.refusal.delta"
        extra: dict[str, Any] = {"logprobs": []} if kind == "output_text" else {}
        events.append({"type": delta_type, **self._where(), "content_index": len(self.parts) - 1, "delta": text,
                       **extra})
        return events

    def _close_last(self) -> list[Event]:
        if not self.parts:
            return []
        index, part = len(self.parts) - 1, self.parts[-1]
        text = "".join(part.pieces)
        where = {**self._where(), "content_index": index}
        done = ({"type": "response.output_text.done", **where, "text": text, "logprobs": []}
                if part.kind == "output_text" else {"type": "response.refusal.done", **where, "refusal": text})
        return [done, {"type": "response.content_part.done", **where, "part": part.body(text)}]

    def closing(self, status: ItemStatus) -> list[Event]:
        return self._close_last()

    def final(self, status: ItemStatus) -> dict[str, Any]:
        content = [part.body("".join(part.pieces)) for part in self.parts]
        return {**self.added(), "status": status, "content": content}


class Reasoning(Item):
    """Another provider's reasoning text as the item's one summary part, and its signed `reasoning_details`
    carried in `encrypted_content`.

    A summary, not `reasoning_text` content: Claude's and Gemini's thinking are summaries of the model's reasoning
    (Anthropic's "summarized thinking", Gemini's "thought summaries"), clients show summaries (Codex) and
    accumulate them (the `openai` SDKs), and OpenRouter's document of the stream has no content part event for
    reasoning text, which the JS SDK's accumulator would need before a `response.reasoning_text.delta`.
    """

    pieces: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)

    def added(self) -> dict[str, Any]:
        return {"type": "reasoning", "id": self.id, "summary": []}

    def delta(self, text: str) -> list[Event]:
        where = {**self._where(), "summary_index": 0}
        events: list[Event] = []
        if not self.pieces:
            events.append({"type": "response.reasoning_summary_part.added", **where,
                           "part": {"type": "summary_text", "text": ""}})
        self.pieces.append(text)
        events.append({"type": "response.reasoning_summary_text.delta", **where, "delta": text})
        return events

    def closing(self, status: ItemStatus) -> list[Event]:
        if not self.pieces:
            return []
        text, where = "".join(self.pieces), {**self._where(), "summary_index": 0}
        return [{"type": "response.reasoning_summary_text.done", **where, "text": text},
                {"type": "response.reasoning_summary_part.done", **where, "part": {"type": "summary_text",
                                                                                   "text": text}}]

    def final(self, status: ItemStatus) -> dict[str, Any]:
        item: dict[str, Any] = {**self.added(), "status": status}
        if self.pieces:
            item["summary"] = [{"type": "summary_text", "text": "".join(self.pieces)}]
        if (carried := carry(self.details)) is not None:
            item["encrypted_content"] = carried
        return item


class FunctionCall(Item):
    call_id: str = ""
    name: str = ""
    namespace: str | None = None
    arguments: list[str] = field(default_factory=list)

    def added(self) -> dict[str, Any]:
        item = {"type": "function_call", "id": self.id, "call_id": self.call_id, "name": self.name,
                "arguments": "", "status": "in_progress"}
        if self.namespace is not None:
            item["namespace"] = self.namespace
        return item

    def delta(self, text: str) -> list[Event]:
        self.arguments.append(text)
        return [{"type": "response.function_call_arguments.delta", **self._where(), "delta": text}]

    def closing(self, status: ItemStatus) -> list[Event]:
        return [{"type": "response.function_call_arguments.done", **self._where(), "name": self.name,
                 "arguments": "".join(self.arguments)}]

    def final(self, status: ItemStatus) -> dict[str, Any]:
        return {**self.added(), "arguments": "".join(self.arguments), "status": status}
