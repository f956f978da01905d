"""Folding OpenAI-format chat chunks (recorded or received) into one comparable answer; a slow scripted stream."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.upstream import Reply


@dataclass
class Folded:
    content: str = ""
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    chunks: int = 0


def fold_chunks(chunks: list[dict[str, Any]]) -> Folded:
    folded = Folded()
    for chunk in chunks:
        folded.chunks += 1
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            folded.content += delta.get("content") or ""
            for call in delta.get("tool_calls") or ():
                entry = folded.tool_calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                function = call.get("function") or {}
                entry["id"] = call.get("id") or entry["id"]
                entry["name"] = function.get("name") or entry["name"]
                entry["arguments"] += function.get("arguments") or ""
            folded.finish_reason = choice.get("finish_reason") or folded.finish_reason
        if chunk.get("usage"):
            folded.usage = chunk["usage"]
    return folded


def sse_chunks(text: str) -> list[dict[str, Any]]:
    """The JSON chunks of an OpenAI SSE body (stopping at `[DONE]`)."""
    chunks: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunks.append(json.loads(data))
    return chunks


def slow_stream(words: int, delay: float) -> Reply:
    """`words` content chunks `delay` seconds apart, then finish, usage and [DONE], as OpenAI streams them."""
    def event(payload: dict[str, Any]) -> str:
        return f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', 'created': 1, **payload})}\n\n"
    chunks = [event({"choices": [{"index": 0, "delta": {"content": f"w{i} "}}]}) for i in range(words)]
    chunks += [event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
               event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": words}}), "data: [DONE]\n\n"]
    return Reply.sse(chunks, chunk_delay=delay)
