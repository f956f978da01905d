"""Gemini responses (whole or streamed) → the gateway's events.

A streamed Gemini response is a series of complete GenerateContentResponse objects
(https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse), so one translator serves
both paths: `parse_response` feeds it the single object, the stream decoder one object per chunk.
Gemini never streams a function call in fragments: each `functionCall` part arrives whole (see the
recording gemini/tool-call-parallel-stream.json), so every part is one complete ToolCallDelta.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from lambdarouter.core.events import (
    Finish,
    FinishReason,
    ImageDelta,
    LogprobsDelta,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UpstreamInfo,
    UsageReport,
    token_count,
)
from lambdarouter.providers import common
from lambdarouter.providers.gemini.errors import error_from_status
from lambdarouter.providers.gemini.messages import DETAIL_FORMAT
from lambdarouter.providers.sse import SSEDecoder
from lambdarouter.providers.toolcalls import ToolCallIndexer

# Candidate.finishReason → the gateway's (https://ai.google.dev/api/generate-content#FinishReason).
# A STOP after function calls becomes tool_calls (Gemini has no finish reason of its own for that).
FINISH_REASONS: Mapping[str, FinishReason] = {
    "STOP": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error",
    "NO_IMAGE": "error",
    "IMAGE_OTHER": "error",
    "OTHER": "error",
}


def tool_call_id(response_id: str | None, index: int, name: str, args: Any) -> str:
    """An id for a call Gemini gave none (Gemini 2.x function calls have no `id`).

    Derived from the response id and the call's position, so the streamed and the whole answer of one
    response name a call alike, and calls of different responses never share an id.
    """
    seed = json.dumps([response_id, index, name, args], sort_keys=True, separators=(",", ":"))
    return f"call_{index}_{hashlib.sha256(seed.encode()).hexdigest()[:16]}"


def usage_from(metadata: Mapping[str, Any]) -> TokenUsage:
    """UsageMetadata (https://ai.google.dev/api/generate-content#UsageMetadata) in OpenAI's semantics.

    promptTokenCount already includes cachedContentTokenCount; tool-use prompt tokens (search or code
    results fed back to the model) are input billed at the prompt price. Thoughts are output tokens.
    Generated images are output tokens too, counted apart in `candidatesTokensDetails` (a ModalityTokenCount
    per modality, e.g. `{"modality": "IMAGE", "tokenCount": 1290}`), because they have their own price
    (https://ai.google.dev/gemini-api/docs/pricing: image output is priced per token, 1290 tokens per
    image up to 1024x1024 on Gemini 2.5 Flash Image).
    """
    thoughts = token_count(metadata.get("thoughtsTokenCount"))
    return TokenUsage(
        prompt_tokens=(token_count(metadata.get("promptTokenCount"))
                       + token_count(metadata.get("toolUsePromptTokenCount"))),
        completion_tokens=token_count(metadata.get("candidatesTokenCount")) + thoughts,
        cached_tokens=token_count(metadata.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        image_tokens=_modality_tokens(metadata.get("candidatesTokensDetails"), "IMAGE"),
    )


def _modality_tokens(details: Any, modality: str) -> int:
    if not isinstance(details, list):
        return 0
    return sum(token_count(d.get("tokenCount")) for d in details
               if isinstance(d, dict) and d.get("modality") == modality)


def _image_url(part: Mapping[str, Any]) -> str | None:
    """A generated image (https://ai.google.dev/gemini-api/docs/image-generation: a response part
    `inlineData {mimeType, data}`, data in base64) as a data: URL. Images the model drew while thinking
    (`thought: true`, Gemini 3 Pro Image's interim compositions) are not the answer and are left out."""
    inline = part.get("inlineData")
    if part.get("thought") or not isinstance(inline, dict):
        return None
    mime, data = inline.get("mimeType"), inline.get("data")
    if not (isinstance(mime, str) and mime.startswith("image/") and isinstance(data, str) and data):
        return None
    return f"data:{mime};base64,{data}"


def logprobs_events(result: Any) -> list[StreamEvent]:
    """Candidate.logprobsResult (https://ai.google.dev/api/generate-content#LogprobsResult): the chosen token
    and the top alternatives of each step, as OpenAI's logprobs entries."""
    if not isinstance(result, dict) or not isinstance(chosen := result.get("chosenCandidates"), list):
        return []
    listed = result.get("topCandidates")
    tops: list[Any] = listed if isinstance(listed, list) else []

    def entry(candidate: Any) -> dict[str, Any]:
        token = candidate.get("token") if isinstance(candidate, dict) else None
        logprob = candidate.get("logProbability", 0.0) if isinstance(candidate, dict) else None
        return {"token": token, "logprob": logprob, "bytes": list(token.encode()) if isinstance(token, str) else None}

    content = [{**entry(c), "top_logprobs": [entry(t) for t in ((tops[i] or {}).get("candidates") or ())]
                if i < len(tops) and isinstance(tops[i], dict) else []} for i, c in enumerate(chosen)]
    return [LogprobsDelta(tuple(content))] if content else []


class ResponseTranslator:
    """The state one response needs across its chunks: tool-call indices, signatures, usage, finish."""

    def __init__(self, provider: str | None = None) -> None:
        self._provider = provider
        self._tools = ToolCallIndexer()
        self._details = 0
        self._usage: Mapping[str, Any] | None = None
        self._info_sent = False
        self.finished = False

    def translate(self, data: Any) -> list[StreamEvent]:
        if not isinstance(data, dict):
            raise common.malformed("a response that is not a JSON object", self._provider)
        if isinstance(data.get("error"), dict):
            # An error inside a 200 stream (e.g. the model failed mid-answer): same table as HTTP errors.
            error = data["error"]
            raise error_from_status(error, int(error.get("code") or 500), {}, data, self._provider)
        events: list[StreamEvent] = []
        if not self._info_sent:
            self._info_sent = True
            events.append(UpstreamInfo(model=data.get("modelVersion"), id=data.get("responseId")))
        candidates = [c for c in data.get("candidates") or () if isinstance(c, dict)]
        # candidateCount is never sent, so the answer is the first (index 0) candidate.
        candidate = candidates[0] if candidates else None
        if candidate is not None:
            content = candidate.get("content") or {}
            events.extend(self._parts(content.get("parts") or (), data.get("responseId")))
            events.extend(logprobs_events(candidate.get("logprobsResult")))
            if candidate.get("finishReason"):
                events.append(self._finish(str(candidate["finishReason"])))
        elif (data.get("promptFeedback") or {}).get("blockReason"):
            # The prompt itself was blocked: no candidates at all
            # (https://ai.google.dev/api/generate-content#PromptFeedback).
            self.finished = True
            events.append(Finish("content_filter", str(data["promptFeedback"]["blockReason"])))
        usage = data.get("usageMetadata")
        if isinstance(usage, dict) and usage != self._usage:
            # Every chunk repeats the running totals: reporting each keeps an abandoned stream billable.
            self._usage = usage
            events.append(UsageReport(usage_from(usage)))
        return events

    def _parts(self, parts: Any, response_id: str | None) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for part in parts:
            if not isinstance(part, dict):
                continue
            call_id: str | None = None
            if isinstance(part.get("functionCall"), dict):
                call = part["functionCall"]
                index = self._tools.start(("part", self._tools.count))  # every functionCall part is a new call
                name, args = str(call.get("name") or ""), call.get("args") or {}
                call_id = str(call.get("id") or tool_call_id(response_id, index, name, args))
                events.append(ToolCallDelta(index, call_id, name, json.dumps(args, ensure_ascii=False)))
            elif isinstance(part.get("text"), str) and part["text"]:
                events.append(ReasoningDelta(text=part["text"]) if part.get("thought") else TextDelta(part["text"]))
            elif (image := _image_url(part)) is not None:
                events.append(ImageDelta(image))
            # Other parts (executableCode, codeExecutionResult, other inline media) have no chat-completions form.
            if isinstance(part.get("thoughtSignature"), str):
                events.append(ReasoningDelta(detail=self._signature(part["thoughtSignature"], call_id)))
        return events

    def _signature(self, signature: str, call_id: str | None) -> dict[str, Any]:
        """A thought signature as an OpenRouter `reasoning.encrypted` detail; `id` ties it to its call so the
        next turn can put it back on the same functionCall part (gemini_messages._signatures)."""
        detail: dict[str, Any] = {"type": "reasoning.encrypted", "data": signature, "format": DETAIL_FORMAT,
                                  "index": self._details}
        if call_id is not None:
            detail["id"] = call_id
        self._details += 1
        return detail

    def _finish(self, native: str) -> Finish:
        self.finished = True
        reason = FINISH_REASONS.get(native, "error")
        if reason == "stop" and self._tools.count:
            reason = "tool_calls"
        return Finish(reason, native)


class GeminiStreamDecoder:
    """streamGenerateContent bytes → events.

    The gateway always asks for `alt=sse` (one complete JSON object per `data:` event, CRLF-separated).
    Without it Gemini streams one JSON array written element by element (recording
    gemini/stream-json-array-no-sse.json), which would need an incremental JSON parser to stream at all;
    that form (and a bare JSON object) is still understood here in case a proxy drops the query string.
    SSE ends without a terminator, so the stream counts as complete once a finishReason (or a prompt
    blockReason) arrived; ending before that is a truncated body (502). Events without data, and fields
    the translator does not know, are ignored; data that is not JSON is a 502.
    """

    def __init__(self, provider: str | None = None) -> None:
        self._provider = provider
        self._translator = ResponseTranslator(provider)
        self._sse = SSEDecoder()
        self._json: JSONSequenceReader | None = None
        self._mode: str | None = None
        self._pending = b""
        self._errors = common.ErrorAfterEvents()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        if self._mode is None:
            self._pending += chunk
            head = self._pending.lstrip(b" \t\r\n\xef\xbb\xbf")
            if not head:
                return []
            self._mode = "json" if head[:1] in (b"[", b"{") else "sse"
            self._json = JSONSequenceReader(self._provider) if self._mode == "json" else None
            chunk, self._pending = self._pending, b""
        if self._json is not None:
            return self._objects(self._json.feed(chunk))
        return self._objects(json_of(e.data, self._provider) for e in self._sse.feed(chunk)
                             if e.data not in ("", "[DONE]"))

    def close(self) -> list[StreamEvent]:
        if self._json is not None:
            events = self._objects(self._json.close(), final=True)
        else:
            events = self._objects((json_of(e.data, self._provider) for e in self._sse.flush()
                                    if e.data not in ("", "[DONE]")),
                                   final=True)
        if not self._translator.finished:
            raise common.malformed("a stream that ended before its last chunk (no finishReason)", self._provider)
        return events

    def _objects(self, objects: Iterable[Any], final: bool = False) -> list[StreamEvent]:
        return self._errors.decode(objects, self._translator.translate, final)


def json_of(text: str, provider: str | None = None) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise common.malformed("a stream event that is not JSON", provider) from None


class JSONSequenceReader:
    """Complete JSON objects out of a JSON array (or a bare object) that arrives in pieces."""

    def __init__(self, provider: str | None = None) -> None:
        self._provider = provider
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._decoder = json.JSONDecoder()
        self._buffer = ""

    def feed(self, chunk: bytes) -> list[Any]:
        self._buffer += self._text.decode(chunk)
        objects: list[Any] = []
        while True:
            rest = self._buffer.lstrip(" \t\r\n\ufeff[,]")  # array punctuation between the elements
            if not rest:
                self._buffer = ""
                return objects
            try:
                value, end = self._decoder.raw_decode(rest)
            except ValueError:
                self._buffer = rest  # an element not complete yet (an object is never valid before its `}`)
                return objects
            objects.append(value)
            self._buffer = rest[end:]

    def close(self) -> list[Any]:
        objects = self.feed(b"")
        if self._buffer.strip():
            raise common.malformed("a truncated JSON response", self._provider)
        return objects
