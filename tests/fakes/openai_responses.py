"""OpenAI's Responses API as a fake upstream speaks it: whole `response` objects and their event streams.

No recording of OpenAI's Responses API exists in the replay corpus, so the shapes are built from OpenAI's API
reference (https://platform.openai.com/docs/api-reference/responses, .../responses-streaming) and checked in
tests/test_responses_fake.py against the `openai` SDK's own types: every event has its `sequence_number`,
deltas carry OpenAI's `obfuscation` padding and `logprobs`, reasoning streams as summary parts, the encrypted
reasoning arrives on the finished item only, and text is cut mid-character (UTF-8 split across deltas is legal
in JSON strings only at character boundaries, so the cuts fall between characters, including emoji).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.upstream import Reply

Item = dict[str, Any]
UPSTREAM_PATH = "/v1/responses"


def message(text: str, item_id: str = "msg_fake0001") -> Item:
    return {"type": "message", "id": item_id, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def function_call(call_id: str, name: str, arguments: str, item_id: str = "fc_fake0001") -> Item:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments,
            "status": "completed"}


def reasoning(summary: str, encrypted: str | None = "gAAAAB-openai-encrypted-reasoning==",
              item_id: str = "rs_fake0001") -> Item:
    item: Item = {"type": "reasoning", "id": item_id,
                  "summary": [{"type": "summary_text", "text": summary}] if summary else []}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def usage(input_tokens: int = 20, output_tokens: int = 10, cached: int = 0, reasoning_tokens: int = 0) -> dict[
    str, Any
]:
    return {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens}


@dataclass
class FakeResponse:
    """One answer of the fake OpenAI: its output items, usage and status, whole or as OpenAI streams it."""

    output: list[Item]
    usage: dict[str, Any] = field(default_factory=usage)
    model: str = "gpt-5-2025-08-07"
    status: str = "completed"
    incomplete_reason: str | None = None
    id: str = field(default_factory=lambda: f"resp_{secrets.token_hex(12)}")

    def body(self, status: str | None = None, output: list[Item] | None = None,
             with_usage: bool = True) -> dict[str, Any]:
        status = status or self.status
        return {
            "id": self.id, "object": "response", "created_at": 1760000000, "status": status,
            "background": False, "error": None,
            "incomplete_details": {"reason": self.incomplete_reason} if status == "incomplete" else None,
            "instructions": None, "max_output_tokens": None, "max_tool_calls": None, "model": self.model,
            "output": self.output if output is None else output, "parallel_tool_calls": True,
            "previous_response_id": None, "reasoning": {"effort": "medium", "summary": None},
            "service_tier": "default", "store": False, "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto", "tools": [],
            "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled",
            "usage": self.usage if with_usage and status != "in_progress" else None, "user": None, "metadata": {},
        }

    def json_reply(self) -> Reply:
        return Reply.json(self.body())

    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": self.body("in_progress", [])},
            {"type": "response.in_progress", "response": self.body("in_progress", [])},
        ]
        for index, item in enumerate(self.output):
            events.extend(_item_events(index, item))
        terminal = "response.incomplete" if self.status == "incomplete" else "response.completed"
        events.append({"type": terminal, "response": self.body()})
        return [{**event, "sequence_number": number} for number, event in enumerate(events)]

    def sse_reply(self, cut_after: int | None = None) -> Reply:
        """The stream, one event per chunk; `cut_after` events, then the connection closes without the rest."""
        return Reply.sse([sse(event) for event in self.events()], headers={"x-request-id": "req_fake"}) if (
            cut_after is None) else Reply(200, {"content-type": "text/event-stream"},
                                          chunks=[sse(e).encode() for e in self.events()],
                                          reset_after_chunks=cut_after)


def sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"


def _pieces(text: str, size: int = 3) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start:start + size]


def _padding() -> str:
    return secrets.token_urlsafe(6)


def _item_events(index: int, item: Item) -> list[dict[str, Any]]:
    where = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        at = {**where, "content_index": 0}
        opened = {**item, "status": "in_progress", "content": []}
        return [{"type": "response.output_item.added", "output_index": index, "item": opened},
                {"type": "response.content_part.added", **at,
                 "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}},
                *({"type": "response.output_text.delta", **at, "delta": piece, "logprobs": [],
                   "obfuscation": _padding()} for piece in _pieces(text)),
                {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
                {"type": "response.content_part.done", **at, "part": item["content"][0]},
                {"type": "response.output_item.done", "output_index": index, "item": item}]
    if item["type"] == "function_call":
        opened = {**item, "arguments": "", "status": "in_progress"}
        return [{"type": "response.output_item.added", "output_index": index, "item": opened},
                *({"type": "response.function_call_arguments.delta", **where, "delta": piece,
                   "obfuscation": _padding()} for piece in _pieces(item["arguments"], 7)),
                {"type": "response.function_call_arguments.done", **where, "name": item["name"],
                 "arguments": item["arguments"]},
                {"type": "response.output_item.done", "output_index": index, "item": item}]
    assert item["type"] == "reasoning", item
    opened = {"type": "reasoning", "id": item["id"], "summary": []}
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": index, "item": opened}]
    for number, part in enumerate(item["summary"]):
        at = {**where, "summary_index": number}
        events += [{"type": "response.reasoning_summary_part.added", **at, "part": {"type": "summary_text",
                                                                                    "text": ""}},
                   *({"type": "response.reasoning_summary_text.delta", **at, "delta": piece,
                      "obfuscation": _padding()} for piece in _pieces(part["text"], 5)),
                   {"type": "response.reasoning_summary_text.done", **at, "text": part["text"]},
                   {"type": "response.reasoning_summary_part.done", **at, "part": part}]
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events
