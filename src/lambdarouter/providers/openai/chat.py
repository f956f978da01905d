"""OpenAI Chat Completions wire format: OpenAI itself, Azure and every OpenAI-compatible host.

Reference: https://platform.openai.com/docs/api-reference/chat. The request body is built in `request`
(the canonical request, with what the client said in OpenAI's own terms put back); this module is the
`WireAdapter` seam, the credentials and the answers (whole and streamed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    FinishReason,
    ImageDelta,
    LogprobsDelta,
    ReasoningDelta,
    RefusalDelta,
    StreamEvent,
    TextDelta,
    TokenUsage,
    ToolCallDelta,
    UpstreamInfo,
    UsageReport,
    token_count,
)
from lambdarouter.providers.base import HttpRequest, UpstreamCall, host_of, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.family import Member
from lambdarouter.providers.openai.family import EVENT_STREAM, FAMILY, JSON
from lambdarouter.providers.openai.request import build_body
from lambdarouter.providers.sse import SSEStreamDecoder
from lambdarouter.providers.toolcalls import ToolCallIndexer

# OpenAI's finish reasons are the gateway's; `function_call` is the deprecated name of tool_calls.
FINISH_REASONS: Mapping[str, FinishReason] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls",
    "content_filter": "content_filter", "error": "error",
}


def usage_from(data: Mapping[str, Any]) -> TokenUsage:
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    return TokenUsage(
        prompt_tokens=token_count(data.get("prompt_tokens"), "usage.prompt_tokens"),
        completion_tokens=token_count(data.get("completion_tokens"), "usage.completion_tokens"),
        cached_tokens=token_count(prompt_details.get("cached_tokens"), "usage.cached_tokens"),
        cache_write_tokens=token_count(prompt_details.get("cache_write_tokens"), "usage.cache_write_tokens"),
        reasoning_tokens=token_count(completion_details.get("reasoning_tokens"), "usage.reasoning_tokens"),
        image_tokens=token_count(completion_details.get("image_tokens"), "usage.image_tokens"),
    )


def _finish(native: str) -> Finish:
    return Finish(FINISH_REASONS.get(native, "stop"), native)


def _reasoning_text(part: Mapping[str, Any]) -> str | None:
    # OpenRouter and vLLM say `reasoning`; DeepSeek and others say `reasoning_content`.
    value = part.get("reasoning") or part.get("reasoning_content")
    return value if isinstance(value, str) and value else None


def _images(part: Mapping[str, Any]) -> list[StreamEvent]:
    """OpenRouter's generated images, `message.images` / `delta.images`: `[{"type": "image_url",
    "image_url": {"url": "data:image/png;base64,..."}}]`
    (https://openrouter.ai/docs/features/multimodal/image-generation)."""
    events: list[StreamEvent] = []
    for image in part.get("images") or ():
        url = (image.get("image_url") or {}).get("url") if isinstance(image, dict) else None
        if isinstance(url, str) and url:
            events.append(ImageDelta(url))
    return events


def _logprobs(choice: Mapping[str, Any]) -> list[StreamEvent]:
    """`choices[].logprobs.content`, whole or per chunk, when the client asked for log probabilities."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    return [LogprobsDelta(tuple(content))] if isinstance(content, list) and content else []


def _content_only(chunk: Mapping[str, Any]) -> str | None:
    """The text of the commonest chunk, read without building anything on the way: one choice whose `delta` is
    `{"content": "..."}` alone, with no finish reason, log probabilities or usage (what OpenAI sends for every
    token after the first chunk: tests/recordings/openai/text-stream.json). None for any other chunk, which
    `_chunk` reads in full; the two agree on every chunk this reads (tests/test_openai_stream_fast.py)."""
    choices = chunk.get("choices")
    if type(choices) is not list or len(choices) != 1 or chunk.get("usage"):
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("finish_reason") or choice.get("logprobs"):
        return None
    delta = choice.get("delta")
    if type(delta) is not dict or len(delta) != 1:
        return None
    content = delta.get("content")
    return content if type(content) is str else None


def _info(data: Mapping[str, Any]) -> UpstreamInfo:
    return UpstreamInfo(model=data.get("model"), system_fingerprint=data.get("system_fingerprint"), id=data.get("id"))


class OpenAIAdapter(Member):
    family = FAMILY
    needs_image_bytes = False  # OpenAI-compatible hosts fetch image URLs themselves

    def build_request(self, call: UpstreamCall) -> HttpRequest:
        body = json.dumps(build_body(call), separators=(",", ":")).encode()
        return FAMILY.request(call.host, "chat/completions", body, EVENT_STREAM if call.stream else JSON)

    def parse_response(self, body: bytes, call: UpstreamCall | None = None) -> list[StreamEvent]:
        data = parse_json_body(body)
        if not isinstance(data, dict) or not data.get("choices"):
            raise malformed("a response without choices", host_of(call))
        return OpenAIStreamDecoder(host_of(call)).whole(data)

    def stream_decoder(self, call: UpstreamCall | None = None) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(host_of(call))


class OpenAIStreamDecoder(SSEStreamDecoder):
    """`data: {chunk}` events until `data: [DONE]`; a whole answer is read the same way (`whole`)."""

    cut_short = "a stream that ended before its last chunk"

    def __init__(self, provider: str | None = None) -> None:
        super().__init__(provider)
        self._tools = ToolCallIndexer()
        self._done = False
        self._finished = False
        self._seen_info = False

    def _ended(self) -> bool:
        return self._done or self._finished

    def whole(self, answer: Mapping[str, Any]) -> list[StreamEvent]:
        """A whole `chat.completion`: its first choice's message read as one chunk's delta, so the whole and
        the streamed answer are read by the same code and cannot drift apart."""
        choice = answer["choices"][0]
        return self._chunk({**answer, "choices": [{**choice, "delta": choice.get("message") or {}}]})

    def _event(self, data: str) -> list[StreamEvent]:
        if data == "[DONE]":
            self._done = True
            return []
        chunk = self._json_object(data, "stream chunk")
        if self._seen_info and (text := _content_only(chunk)) is not None:
            return [TextDelta(text)] if text else []
        return self._chunk(chunk)

    def _chunk(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        if "error" in chunk and not chunk.get("choices"):
            # OpenRouter-style mid-stream error: a chunk with a top-level `error`.
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
            metadata = {"raw": chunk, **({"provider_name": self._provider} if self._provider else {})}
            raise GatewayError(502, str(error.get("message", "upstream error")), metadata=metadata)
        events: list[StreamEvent] = []
        if not self._seen_info:
            self._seen_info = True
            events.append(_info(chunk))
        for choice in chunk.get("choices") or ():
            events.extend(self._delta(choice.get("delta") or {}))
            events.extend(_logprobs(choice))
            if choice.get("finish_reason"):
                self._finished = True
                events.append(_finish(choice["finish_reason"]))
        if chunk.get("usage"):
            events.append(UsageReport(usage_from(chunk["usage"])))
        return events

    def _delta(self, delta: Mapping[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if text := _reasoning_text(delta):
            events.append(ReasoningDelta(text=text))
        events.extend(ReasoningDelta(detail=d) for d in delta.get("reasoning_details") or ())
        if content := delta.get("content"):
            events.append(TextDelta(content))
        if refusal := delta.get("refusal"):
            events.append(RefusalDelta(refusal))
        events.extend(_images(delta))
        for tool_call in delta.get("tool_calls") or ():
            function = tool_call.get("function") or {}
            # Some compatible hosts omit `index` or send -1; a new id always starts a new call.
            key = tool_call.get("index")
            if tool_call.get("id"):
                index = self._tools.start(("id", tool_call["id"]) if key in (None, -1) else key)
            else:
                index = self._tools.lookup(None if key in (None, -1) else key)
            events.append(ToolCallDelta(index, tool_call.get("id"), function.get("name"),
                                        function.get("arguments") or ""))
        return events


ADAPTER = OpenAIAdapter()
