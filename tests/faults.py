"""The fault-injection cases of issue 15: what a misbehaving upstream sends, and what must happen then.

Each case is one answer of the primary host (`openai`, OpenAI's wire format) to one request, with its written
expected outcome. `tests/test_faults.py` sends every case through a real `lambdarouter serve` twice: with the
primary host alone, and with a healthy fallback host (`groq`) behind it. Whatever the case, the books hold:
no 500, no stream cut without an error chunk, exactly one ledger row, no hold left, no negative charge and none
above the reservation, the client told exactly what was booked, and the provider key nowhere.

Outcomes:

- UNREADABLE: the answer cannot be read (an odd shape in a 200, usage that is not a count). One host: a 502
  envelope blaming the provider, booked `error` at $0. With a fallback: the fallback's 200, booked at its cost.
- OVERCLAIM: the answer reads, but its usage claims more than the request could cost. 200; booked at the
  reservation of the serving endpoint (the client is told that cost), the claim kept as the row's anomaly.
- MID_STREAM: a stream fails after its first event reached the client. Both variants: the stream ends with an
  error chunk, then the usage chunk and `[DONE]`; booked `error` at what was produced, as the client was told;
  no failover.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tests.fakes.upstream import Reply
from tests.gateway import UPSTREAM_KEY

Outcome = Literal["UNREADABLE", "OVERCLAIM", "MID_STREAM"]
PRIMARY_CHAT = "/v1/chat/completions"
FALLBACK_CHAT = "/groq/v1/chat/completions"
BIG = 10**15  # tokens: $750,000,000 at GPT-4o's list price, on a key with a few dollars


@dataclass(frozen=True)
class Case:
    name: str
    streamed: bool
    reply: Callable[[], Reply]  # the primary host's answer
    outcome: Outcome
    expected: str  # the written expected outcome, beside the general one of `outcome`
    body: dict[str, Any] | None = None  # request fields beside model, messages, stream


def completion(message: Any = None, *, usage: Any = None, choice: Any = None, **top: Any) -> dict[str, Any]:
    """An OpenAI chat completion whose parts may be replaced by odd ones."""
    message = {"role": "assistant", "content": "fine"} if message is None else message
    choice = {"index": 0, "message": message, "finish_reason": "stop"} if choice is None else choice
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7} if usage is None else usage
    return {"id": "chatcmpl-f", "object": "chat.completion", "created": 1, "model": "gpt-4o", "choices": [choice],
            "usage": usage, **top}


def whole(data: Any) -> Callable[[], Reply]:
    return lambda: Reply.json(data)


def raw(body: bytes, content_type: str = "application/json") -> Callable[[], Reply]:
    return lambda: Reply(status=200, headers={"content-type": content_type}, body=body)


def chunk(delta: Any = None, *, finish: Any = None, usage: Any = None, choices: Any = None) -> dict[str, Any]:
    if choices is None:
        choices = [] if delta is None and finish is None else [
            {"index": 0, "delta": delta if delta is not None else {}, "finish_reason": finish}]
    out: dict[str, Any] = {"id": "chatcmpl-f", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                           "choices": choices}
    if usage is not None:
        out["usage"] = usage
    return out


def sse(*events: Any, done: bool = True) -> Callable[[], Reply]:
    """An SSE body of `events` (dicts as JSON, strings as they are), one chunk each, then `[DONE]`."""
    lines = [f"data: {json.dumps(e) if not isinstance(e, str) else e}\n\n" for e in events]
    return lambda: Reply.sse([*lines, *(["data: [DONE]\n\n"] if done else [])])


HELLO = chunk({"role": "assistant", "content": "Hello"})
ENDING = chunk(finish="stop")


def usage(prompt: Any = 5, completion_tokens: Any = 2, **extra: Any) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, **extra}


ECHOED = {"error": {"message": f"Incorrect API key provided: {UPSTREAM_KEY}", "type": "invalid_request_error"}}

# -- a whole answer (stream: false) ----------------------------------------------------------------------------
WHOLE = [
    Case("choices-as-object", False, whole({**completion(), "choices": {"0": completion()["choices"][0]}}),
         "UNREADABLE", "`choices` is an object"),
    Case("choices-empty", False, whole({**completion(), "choices": []}), "UNREADABLE", "no choice at all"),
    Case("choice-as-string", False, whole({**completion(), "choices": ["fine"]}), "UNREADABLE", "a choice is text"),
    Case("message-as-string", False, whole(completion(choice={"index": 0, "message": "fine"})), "UNREADABLE",
         "`message` is text"),
    Case("content-as-number", False, whole(completion({"role": "assistant", "content": 42})), "UNREADABLE",
         "`content` is a number (this left a stuck hold and no ledger row before)"),
    Case("content-as-object", False, whole(completion({"role": "assistant", "content": {"text": "fine"}})),
         "UNREADABLE", "`content` is an object"),
    Case("tool-calls-as-string", False, whole(completion({"role": "assistant", "tool_calls": "get_weather"})),
         "UNREADABLE", "`tool_calls` is text"),
    Case("tool-call-as-number", False, whole(completion({"role": "assistant", "tool_calls": [7]})), "UNREADABLE",
         "a tool call is a number"),
    Case("tool-arguments-as-object", False, whole(completion({"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": {"city": "Paris"}}}]})),
         "UNREADABLE", "tool call arguments are an object, not JSON text"),
    Case("finish-reason-as-number", False, whole(completion(choice={"index": 0, "finish_reason": 1,
                                                                    "message": {"content": "fine"}})),
         "UNREADABLE", "`finish_reason` is a number"),
    Case("reasoning-as-number", False, whole(completion({"content": "fine", "reasoning_details": [3]})),
         "UNREADABLE", "a reasoning detail is a number"),
    Case("refusal-as-number", False, whole(completion({"content": None, "refusal": 0.5})), "UNREADABLE",
         "`refusal` is a number"),
    Case("tool-call-id-as-number", False, whole(completion({"role": "assistant", "tool_calls": [
        {"id": 5, "type": "function", "function": {"name": "f", "arguments": "{}"}}]})), "UNREADABLE",
         "a tool call's id is a number"),
    Case("model-as-number", False, whole({**completion(), "model": 4}), "UNREADABLE", "`model` is a number"),
    Case("usage-as-string", False, whole(completion(usage="7 tokens")), "UNREADABLE", "`usage` is text"),
    Case("usage-fields-as-strings", False, whole(completion(usage=usage("5", "2"))), "UNREADABLE",
         "token counts are strings"),
    Case("usage-negative", False, whole(completion(usage=usage(5, -1_000_000))), "UNREADABLE",
         "a negative count (credited the key $2.00 before)"),
    Case("usage-fractional", False, whole(completion(usage=usage(5.5, 2))), "UNREADABLE", "a count with a fraction"),
    Case("usage-nan", False, whole(completion(usage=usage(float("nan"), 2))), "UNREADABLE", "NaN as a count"),
    Case("usage-infinite", False, raw(json.dumps(completion(usage=usage(2, 2))).replace(
        '"prompt_tokens": 2', '"prompt_tokens": 1e999').encode()), "UNREADABLE", "a count of 1e999"),
    Case("cached-negative", False, whole(completion(usage=usage(prompt_tokens_details={"cached_tokens": -9}))),
         "UNREADABLE", "negative cached tokens"),
    Case("body-array", False, whole([completion()]), "UNREADABLE", "a JSON array"),
    Case("body-html", False, raw(b"<html><body>Bad gateway</body></html>", "text/html"), "UNREADABLE",
         "an HTML page with status 200"),
    Case("body-empty", False, raw(b""), "UNREADABLE", "an empty 200"),
    Case("body-truncated", False, raw(b'{"choices": [{"message": {"content": "fi'), "UNREADABLE",
         "JSON cut short"),
    Case("usage-1e15", False, whole(completion(usage=usage(5, BIG))), "OVERCLAIM",
         "10^15 output tokens claimed (booked $750,000,000 before): booked the reservation"),
    Case("usage-above-max-tokens", False, whole(completion(usage=usage(5, 4_000))), "OVERCLAIM",
         "4,000 output tokens for max_tokens 10 (spent 4.8x a budget before)", body={"max_tokens": 10}),
]

# -- a stream (stream: true) -----------------------------------------------------------------------------------
STREAMED = [
    Case("stream-error-event-first", True, sse({"error": {"message": "overloaded", "code": 502}}), "UNREADABLE",
         "a 200 whose first event is an error (did not fail over before)"),
    Case("stream-garbage-first", True, sse("not json at all"), "UNREADABLE", "a 200 of garbage"),
    Case("stream-empty", True, lambda: Reply.sse([]), "UNREADABLE", "a 200 with an empty body"),
    Case("stream-html", True, raw(b"<html><body>Service unavailable</body></html>", "text/html"), "UNREADABLE",
         "a 200 with an HTML page"),
    Case("stream-key-echoed-first", True, sse(ECHOED), "UNREADABLE",
         "a first error event that echoes the provider key: never shown, never stored"),
    Case("stream-content-as-number-first", True, sse(chunk({"content": 42})), "UNREADABLE",
         "the first chunk's `content` is a number"),
    Case("stream-choices-as-object-first", True, sse(chunk(choices={"0": {"delta": {"content": "x"}}})),
         "UNREADABLE", "the first chunk's `choices` is an object"),
    Case("stream-key-echoed-later", True, sse(HELLO, ECHOED), "MID_STREAM",
         "an error event after the first token echoes the provider key (it reached the client, metadata.raw and "
         "the ledger before): redacted everywhere"),
    Case("stream-content-as-number-later", True, sse(HELLO, chunk({"content": 42})), "MID_STREAM",
         "a later chunk's `content` is a number"),
    Case("stream-garbage-later", True, sse(HELLO, "{not json"), "MID_STREAM", "a later chunk is garbage"),
    Case("stream-cut", True, sse(HELLO, done=False), "MID_STREAM", "the body ends before its last chunk"),
    Case("stream-usage-negative", True, sse(HELLO, ENDING, chunk(usage=usage(5, -10**6))), "MID_STREAM",
         "the usage chunk says -1,000,000 tokens: the text received is charged from its estimate"),
    Case("stream-usage-strings", True, sse(HELLO, ENDING, chunk(usage=usage("5", "2"))), "MID_STREAM",
         "the usage chunk's counts are strings"),
    Case("stream-usage-1e15", True, sse(HELLO, ENDING, chunk(usage=usage(5, BIG))), "OVERCLAIM",
         "10^15 output tokens claimed in the usage chunk: booked and told the reservation"),
]

CASES = WHOLE + STREAMED
