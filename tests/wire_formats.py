"""One answer scripted in each of the four upstream wire formats, for tests that run the same scenario against
every format: a catalog model served only in that format, the fake upstream's path, and the provider's own
reply (whole or streamed, raw UTF-8 as providers send it) for text, a tool call, and an error mid-stream.

Shapes are the documented ones the per-format helpers build (tests/anthropic_cases.py, tests/bedrock_cases.py)
or, for OpenAI and Gemini, the recorded ones (tests/recordings/openai/text-stream.json,
tests/recordings/gemini/text-stream.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests import anthropic_cases as anthropic
from tests import bedrock_cases as bedrock
from tests.fakes.upstream import Reply

EVENTSTREAM = {"content-type": "application/vnd.amazon.eventstream"}
USAGE = {"prompt_tokens": 11, "completion_tokens": 7}  # what every scripted answer reports


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class WireFormat:
    name: str
    model: str  # a catalog model with an endpoint in this format
    host: str  # that endpoint's host: `provider.only` pins the request to it
    whole_path: str
    stream_path: str
    text: Callable[[list[str], bool], Reply]  # (pieces, stream) → the provider's answer
    tool_call: Callable[[ToolCall, bool], Reply]
    error_after_text: Callable[[str], Reply]  # a stream that fails after sending this text

    def path(self, stream: bool) -> str:
        return self.stream_path if stream else self.whole_path

    def pinned(self) -> dict[str, Any]:
        """The request fields naming the model and pinning it to this format's host."""
        return {"model": self.model, "provider": {"only": [self.host]}}


def raw_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sse(*payloads: Any) -> list[str]:
    return [f"data: {raw_json(p)}\n\n" for p in payloads]


# --- OpenAI ---------------------------------------------------------------------------------------------------

_OPENAI_HEAD = {"id": "chatcmpl-synth", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06",
                "system_fingerprint": "fp_synth"}


def _openai_usage() -> dict[str, Any]:
    return {**USAGE, "total_tokens": 18, "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}}


def _openai_stream(deltas: list[dict[str, Any]], finish: str) -> Reply:
    chunks = [{**_OPENAI_HEAD, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]}
              for d in deltas]
    chunks.append({**_OPENAI_HEAD, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
    chunks.append({**_OPENAI_HEAD, "choices": [], "usage": _openai_usage()})
    return Reply.sse([*sse(*chunks), "data: [DONE]\n\n"])


def _openai_whole(message: dict[str, Any], finish: str) -> Reply:
    return Reply.json({**_OPENAI_HEAD, "object": "chat.completion", "usage": _openai_usage(), "choices": [
        {"index": 0, "message": {"role": "assistant", "refusal": None, **message}, "logprobs": None,
         "finish_reason": finish}]})


def _openai_text(pieces: list[str], stream: bool) -> Reply:
    if stream:
        return _openai_stream([{"role": "assistant", "content": ""}, *({"content": p} for p in pieces)], "stop")
    return _openai_whole({"content": "".join(pieces)}, "stop")


def _openai_tool(call: ToolCall, stream: bool) -> Reply:
    arguments = raw_json(call.arguments)
    if stream:
        head = {"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        return _openai_stream([{"role": "assistant", "content": None, "tool_calls": [head]},
                               {"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}], "tool_calls")
    return _openai_whole({"content": None, "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}]}, "tool_calls")


def _openai_error(text: str) -> Reply:
    first = {**_OPENAI_HEAD, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return Reply.sse(sse(first, {"error": {"message": "Upstream overloaded", "code": 502}}))


# --- Anthropic ------------------------------------------------------------------------------------------------

def _anthropic_text(pieces: list[str], stream: bool) -> Reply:
    if stream:
        return Reply.sse([anthropic.message_start(input_tokens=USAGE["prompt_tokens"]),
                          *anthropic.text_block(0, *pieces),
                          *anthropic.message_end(output_tokens=USAGE["completion_tokens"])])
    return Reply.json(anthropic.message_body([{"type": "text", "text": "".join(pieces)}],
                                             input_tokens=USAGE["prompt_tokens"],
                                             output_tokens=USAGE["completion_tokens"]))


def _anthropic_tool(call: ToolCall, stream: bool) -> Reply:
    if stream:
        arguments = raw_json(call.arguments)
        middle = len(arguments) // 2
        return Reply.sse([anthropic.message_start(input_tokens=USAGE["prompt_tokens"]),
                          *anthropic.tool_block(0, call.id, call.name, arguments[:middle], arguments[middle:]),
                          *anthropic.message_end("tool_use", USAGE["completion_tokens"])])
    block = {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
    return Reply.json(anthropic.message_body([block], "tool_use", input_tokens=USAGE["prompt_tokens"],
                                             output_tokens=USAGE["completion_tokens"]))


def _anthropic_error(text: str) -> Reply:
    return Reply.sse([anthropic.message_start(), *anthropic.text_block(0, text)[:2],
                      anthropic.sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})])


# --- Gemini ---------------------------------------------------------------------------------------------------

def _gemini_chunk(parts: list[dict[str, Any]], finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-2.5-flash", "responseId": "synth"}
    if finish:
        candidate["finishReason"] = "STOP"
        chunk["usageMetadata"] = {"promptTokenCount": USAGE["prompt_tokens"],
                                  "candidatesTokenCount": USAGE["completion_tokens"],
                                  "totalTokenCount": USAGE["prompt_tokens"] + USAGE["completion_tokens"]}
    return chunk


def _gemini_text(pieces: list[str], stream: bool) -> Reply:
    if stream:
        return Reply.sse(sse(*(_gemini_chunk([{"text": p}], i == len(pieces) - 1) for i, p in enumerate(pieces))))
    return Reply.json(_gemini_chunk([{"text": "".join(pieces)}], True))


def _gemini_tool(call: ToolCall, stream: bool) -> Reply:
    # Gemini has no call ids: the gateway makes one up (the client echoes it back with the result).
    chunk = _gemini_chunk([{"functionCall": {"name": call.name, "args": call.arguments}}], True)
    return Reply.sse(sse(chunk)) if stream else Reply.json(chunk)


def _gemini_error(text: str) -> Reply:
    return Reply.sse(sse(_gemini_chunk([{"text": text}], False),
                         {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}))


# --- Bedrock Converse -----------------------------------------------------------------------------------------

BEDROCK_CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # Converse takes structured output for it
_BEDROCK_USAGE = {"inputTokens": USAGE["prompt_tokens"], "outputTokens": USAGE["completion_tokens"],
                  "totalTokens": USAGE["prompt_tokens"] + USAGE["completion_tokens"]}


def _bedrock_whole(content: list[dict[str, Any]], stop: str) -> Reply:
    return Reply.json({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
                       "usage": _BEDROCK_USAGE, "metrics": {"latencyMs": 10}})


def _bedrock_text(pieces: list[str], stream: bool) -> Reply:
    if stream:
        return Reply(headers=EVENTSTREAM, chunks=bedrock.text_stream(*pieces, usage=_BEDROCK_USAGE))
    return _bedrock_whole([{"text": "".join(pieces)}], "end_turn")


def _bedrock_tool(call: ToolCall, stream: bool) -> Reply:
    if not stream:
        return _bedrock_whole([{"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}}],
                              "tool_use")
    event = bedrock.event
    frames = [event("messageStart", {"role": "assistant"}),
              event("contentBlockStart", {"contentBlockIndex": 0, "start": {
                  "toolUse": {"toolUseId": call.id, "name": call.name}}}),
              event("contentBlockDelta", {"contentBlockIndex": 0,
                                          "delta": {"toolUse": {"input": raw_json(call.arguments)}}}),
              event("contentBlockStop", {"contentBlockIndex": 0}), event("messageStop", {"stopReason": "tool_use"}),
              event("metadata", {"usage": _BEDROCK_USAGE, "metrics": {"latencyMs": 10}})]
    return Reply(headers=EVENTSTREAM, chunks=frames)


def _bedrock_error(text: str) -> Reply:
    frames = [*bedrock.text_stream(text)[:2], bedrock.exception("throttlingException", "Too many requests.")]
    return Reply(headers=EVENTSTREAM, chunks=frames)


WIRE_FORMATS = {
    "openai": WireFormat("openai", "openai/gpt-4o", "openai", "/v1/chat/completions", "/v1/chat/completions",
                         _openai_text, _openai_tool, _openai_error),
    "anthropic": WireFormat("anthropic", "anthropic/claude-sonnet-4-0", "anthropic", anthropic.UPSTREAM_PATH,
                            anthropic.UPSTREAM_PATH, _anthropic_text, _anthropic_tool, _anthropic_error),
    "gemini": WireFormat("gemini", "google/gemini-2.5-flash", "google-ai-studio",
                         "/v1beta/models/gemini-2.5-flash:generateContent",
                         "/v1beta/models/gemini-2.5-flash:streamGenerateContent", _gemini_text, _gemini_tool,
                         _gemini_error),
    "bedrock": WireFormat("bedrock", "anthropic/claude-sonnet-4.5", "amazon-bedrock",
                          f"/model/{BEDROCK_CLAUDE}/converse", f"/model/{BEDROCK_CLAUDE}/converse-stream",
                          _bedrock_text, _bedrock_tool, _bedrock_error),
}
