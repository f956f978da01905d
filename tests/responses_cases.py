"""The Responses tests' upstreams: one provider-neutral answer (reasoning with its signature, text, a tool call,
usage) said in each provider's own wire format, whole or streamed, and read back out of what the gateway sent
that provider on the next turn (the tool's result, the reasoning's signature).

Shapes: Anthropic Messages (tests/anthropic_cases.py's builders), Gemini `generateContent` /
`streamGenerateContent?alt=sse` (CRLF-separated events, as tests/recordings/gemini shows), Bedrock Converse /
ConverseStream (event-stream frames, tests/bedrock_cases.py), and OpenAI's Responses API
(tests/fakes/openai_responses.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests import anthropic_cases as anthropic
from tests import bedrock_cases as bedrock
from tests.fakes import openai_responses as openai_fake
from tests.fakes.upstream import Reply
from tests.openrouter_contract import validate_chunk
from tests.wire_formats import ToolCall


@dataclass(frozen=True)
class Answer:
    """What one upstream turn says, whatever its wire format."""

    text: str = ""
    reasoning: str = ""
    signature: str = ""
    call: ToolCall | None = None
    input_tokens: int = 30
    output_tokens: int = 12


@dataclass(frozen=True)
class Upstream:
    name: str
    model: str  # the catalog id the client asks for
    extra: dict[str, Any]  # extra_body: the provider pinned
    path: str  # the fake upstream's path (regex)
    whole: Callable[[Answer], Reply]
    streamed: Callable[[Answer], Reply]
    tool_result: Callable[[dict[str, Any]], str]  # from the next turn's upstream request
    signature: Callable[[dict[str, Any]], str | None]
    tool_names: Callable[[dict[str, Any]], list[str]] = field(default=lambda body: [])

    def reply(self, answer: Answer, stream: bool) -> Reply:
        return (self.streamed if stream else self.whole)(answer)


# -- Anthropic ---------------------------------------------------------------------------------------------------
def _anthropic_blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.reasoning:
        blocks.append({"type": "thinking", "thinking": answer.reasoning, "signature": answer.signature})
    if answer.text:
        blocks.append({"type": "text", "text": answer.text})
    if answer.call:
        blocks.append({"type": "tool_use", "id": answer.call.id, "name": answer.call.name,
                       "input": answer.call.arguments})
    return blocks


def _anthropic_whole(answer: Answer) -> Reply:
    stop = "tool_use" if answer.call else "end_turn"
    return Reply.json(anthropic.message_body(_anthropic_blocks(answer), stop, input_tokens=answer.input_tokens,
                                             output_tokens=answer.output_tokens))


def _anthropic_streamed(answer: Answer) -> Reply:
    events, index = [anthropic.message_start(input_tokens=answer.input_tokens)], 0
    if answer.reasoning:
        half = len(answer.reasoning) // 2
        events += [anthropic.sse("content_block_start", {"index": index,
                                                         "content_block": {"type": "thinking", "thinking": ""}}),
                   *(anthropic.sse("content_block_delta", {"index": index, "delta": {
                       "type": "thinking_delta", "thinking": piece}})
                     for piece in (answer.reasoning[:half], answer.reasoning[half:])),
                   anthropic.sse("content_block_delta", {"index": index, "delta": {
                       "type": "signature_delta", "signature": answer.signature}}),
                   anthropic.sse("content_block_stop", {"index": index})]
        index += 1
    if answer.text:
        events += anthropic.text_block(index, answer.text[:4], answer.text[4:])
        index += 1
    if answer.call:
        arguments = json.dumps(answer.call.arguments)
        events += anthropic.tool_block(index, answer.call.id, answer.call.name, arguments[:5], arguments[5:])
    events += anthropic.message_end("tool_use" if answer.call else "end_turn", answer.output_tokens)
    return Reply.sse(events)


def _anthropic_tool_result(body: dict[str, Any]) -> str:
    block = next(b for b in body["messages"][-1]["content"] if b["type"] == "tool_result")
    content = block["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def _anthropic_signature(body: dict[str, Any]) -> str | None:
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else ():
            if block["type"] == "thinking":
                return str(block["signature"])
    return None


ANTHROPIC = Upstream("anthropic", "anthropic/claude-sonnet-4.5", {"provider": {"only": ["anthropic"]}},
                     anthropic.UPSTREAM_PATH, _anthropic_whole, _anthropic_streamed, _anthropic_tool_result,
                     _anthropic_signature, lambda body: [tool["name"] for tool in body.get("tools") or ()])


# -- Gemini ------------------------------------------------------------------------------------------------------
def _gemini_parts(answer: Answer) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if answer.reasoning:
        parts.append({"text": answer.reasoning, "thought": True})
    if answer.text:
        parts.append({"text": answer.text})
    if answer.call:
        parts.append({"functionCall": {"name": answer.call.name, "args": answer.call.arguments}})
    if answer.signature:  # Gemini signs the first call, else the last part
        parts[next((n for n, p in enumerate(parts) if "functionCall" in p), -1)]["thoughtSignature"] = answer.signature
    return parts


def _gemini_body(parts: list[dict[str, Any]], answer: Answer, last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if last:
        candidate["finishReason"] = "STOP"
    usage = {"promptTokenCount": answer.input_tokens, "candidatesTokenCount": answer.output_tokens,
             "totalTokenCount": answer.input_tokens + answer.output_tokens}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash",
            "responseId": "gemini-response-1"}


def _gemini_streamed(answer: Answer) -> Reply:
    parts = _gemini_parts(answer)
    events = [f"data: {json.dumps(_gemini_body([part], answer, n == len(parts) - 1))}\r\n\r\n"
              for n, part in enumerate(parts)]
    return Reply.sse(events)


def _gemini_tool_result(body: dict[str, Any]) -> str:
    part = next(p for p in body["contents"][-1]["parts"] if "functionResponse" in p)
    return json.dumps(part["functionResponse"]["response"], ensure_ascii=False)


def _gemini_signature(body: dict[str, Any]) -> str | None:
    return next((part["thoughtSignature"] for content in body["contents"] for part in content["parts"]
                 if "thoughtSignature" in part), None)


GEMINI = Upstream("gemini", "google/gemini-2.5-flash", {"provider": {"only": ["google-ai-studio"]}},
                  r"^/v1beta/models/gemini-2\.5-flash:", lambda a: Reply.json(_gemini_body(_gemini_parts(a), a, True)),
                  _gemini_streamed, _gemini_tool_result, _gemini_signature)


# -- Bedrock -----------------------------------------------------------------------------------------------------
def _bedrock_content(answer: Answer) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if answer.reasoning:
        content.append({"reasoningContent": {"reasoningText": {"text": answer.reasoning,
                                                               "signature": answer.signature}}})
    if answer.text:
        content.append({"text": answer.text})
    if answer.call:
        content.append({"toolUse": {"toolUseId": answer.call.id, "name": answer.call.name,
                                    "input": answer.call.arguments}})
    return content


def _bedrock_usage(answer: Answer) -> dict[str, int]:
    return {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens,
            "totalTokens": answer.input_tokens + answer.output_tokens}


def _bedrock_whole(answer: Answer) -> Reply:
    return Reply.json({"output": {"message": {"role": "assistant", "content": _bedrock_content(answer)}},
                       "stopReason": "tool_use" if answer.call else "end_turn", "usage": _bedrock_usage(answer),
                       "metrics": {"latencyMs": 12}})


def _bedrock_streamed(answer: Answer) -> Reply:
    frames, index = [bedrock.event("messageStart", {"role": "assistant"})], 0
    if answer.reasoning:
        frames += [bedrock.event("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                       "reasoningContent": {"text": answer.reasoning}}}),
                   bedrock.event("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                       "reasoningContent": {"signature": answer.signature}}}),
                   bedrock.event("contentBlockStop", {"contentBlockIndex": index})]
        index += 1
    if answer.text:
        frames += [bedrock.event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": answer.text}}),
                   bedrock.event("contentBlockStop", {"contentBlockIndex": index})]
        index += 1
    if answer.call:
        frames += [bedrock.event("contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": {
                       "toolUseId": answer.call.id, "name": answer.call.name}}}),
                   bedrock.event("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                       "toolUse": {"input": json.dumps(answer.call.arguments)}}}),
                   bedrock.event("contentBlockStop", {"contentBlockIndex": index})]
    frames += [bedrock.event("messageStop", {"stopReason": "tool_use" if answer.call else "end_turn"}),
               bedrock.event("metadata", {"usage": _bedrock_usage(answer), "metrics": {"latencyMs": 12}})]
    return Reply(200, {"content-type": "application/vnd.amazon.eventstream"}, chunks=frames)


def _bedrock_tool_result(body: dict[str, Any]) -> str:
    block = next(b["toolResult"] for b in body["messages"][-1]["content"] if "toolResult" in b)
    return "".join(part.get("text", "") for part in block["content"])


def _bedrock_signature(body: dict[str, Any]) -> str | None:
    return next((block["reasoningContent"]["reasoningText"]["signature"] for message in body["messages"]
                 for block in message["content"] if "reasoningContent" in block), None)


BEDROCK = Upstream("bedrock", "anthropic/claude-sonnet-4.5", bedrock.BEDROCK_ONLY,
                   r"^/model/us\.anthropic\.claude-sonnet-4-5-20250929-v1:0/converse", _bedrock_whole,
                   _bedrock_streamed, _bedrock_tool_result, _bedrock_signature)


# -- OpenAI's own Responses API (native) -------------------------------------------------------------------------
def _openai_answer(answer: Answer) -> openai_fake.FakeResponse:
    output: list[dict[str, Any]] = []
    if answer.reasoning:
        output.append(openai_fake.reasoning(answer.reasoning, answer.signature))
    if answer.text:
        output.append(openai_fake.message(answer.text))
    if answer.call:
        output.append(openai_fake.function_call(answer.call.id, answer.call.name, json.dumps(answer.call.arguments)))
    return openai_fake.FakeResponse(output, openai_fake.usage(answer.input_tokens, answer.output_tokens))


def _openai_tool_result(body: dict[str, Any]) -> str:
    return str(next(i["output"] for i in body["input"] if i.get("type") == "function_call_output"))


def _openai_signature(body: dict[str, Any]) -> str | None:
    return next((i.get("encrypted_content") for i in body["input"] if i.get("type") == "reasoning"), None)


OPENAI = Upstream("openai", "openai/gpt-5", {}, openai_fake.UPSTREAM_PATH,
                  lambda a: _openai_answer(a).json_reply(), lambda a: _openai_answer(a).sse_reply(),
                  _openai_tool_result, _openai_signature,
                  lambda body: [tool["name"] for tool in body.get("tools") or () if "name" in tool])

UPSTREAMS = [OPENAI, ANTHROPIC, GEMINI, BEDROCK]


# -- what the client got, against the openai SDK's own types ----------------------------------------------------
STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def sse_events(text: str) -> list[dict[str, Any]]:
    """The `data:` payloads of a Responses stream, each checked against its `event:` line."""
    events: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "data" in lines:
            event = json.loads(lines["data"])
            assert lines.get("event") == event["type"], block
            events.append(event)
    return events


def assert_valid_stream(events: list[dict[str, Any]]) -> Response:
    """Every event validates against the SDK's `ResponseStreamEvent` and OpenRouter's document of the stream,
    numbered 0, 1, 2 ...; the stream opens with `response.created` and ends with one terminal event, whose
    response validates as a `Response`."""
    for event in events:
        STREAM_EVENT.validate_python(event)
        validate_chunk("/responses", event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    terminal = [e for e in events if e["type"] in ("response.completed", "response.incomplete", "response.failed")]
    assert terminal == [events[-1]], [e["type"] for e in events]
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert len(ids) == 1, ids
    return Response.model_validate(events[-1]["response"])
