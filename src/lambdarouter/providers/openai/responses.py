"""OpenAI's own Responses API (POST /v1/responses), passed through for OpenAI models on OpenAI.

Reference: https://platform.openai.com/docs/api-reference/responses. The client's body goes upstream as sent,
except: the model is the endpoint's upstream id; the gateway's own fields are dropped, and the sampling
parameters the endpoint does not take (as chat drops them); `store` is false (nothing is kept in the operator's
OpenAI account: the gateway's Responses API is stateless, docs/responses.md); and a reasoning model is asked for
`reasoning.encrypted_content`, which with `store: false` is the only way its reasoning can come back on the next
turn (https://platform.openai.com/docs/guides/reasoning#encrypted-reasoning-items). Reasoning items the gateway
made for other providers (reasoning.py's carrier) are left out: OpenAI could not read them.

The answer and each streamed event are read on the side for the books (`events_of`, `stream_events`) and
forwarded as OpenAI sent them; the gateway rewrites only the response's identity and usage (gateway/responses.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from msgspec import Struct

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import (
    Finish,
    MalformedEvent,
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
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.dialects.responses.reasoning import is_carried
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.openai.family import EVENT_STREAM, FAMILY, JSON
from lambdarouter.providers.sse import SSEDecoder

# Fields OpenAI's Responses API does not have: OpenRouter's extensions (routing, accounting, plugins) and the
# sampling parameters OpenRouter accepts for other providers' models.
NOT_FORWARDED = frozenset({"models", "provider", "usage", "transforms", "plugins", "top_k", "frequency_penalty",
                           "presence_penalty"})
# Request field → the `supported_parameters` name an endpoint must list to take it (dropped otherwise).
SAMPLING_PARAMETERS: Mapping[str, str] = {"temperature": "temperature", "top_p": "top_p",
                                          "top_logprobs": "top_logprobs"}
ENCRYPTED_REASONING = "reasoning.encrypted_content"
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
# OpenAI's `incomplete_details.reason` → the gateway's finish reason.
INCOMPLETE_FINISH: Mapping[str, Finish] = {"max_output_tokens": Finish("length", "max_output_tokens"),
                                           "content_filter": Finish("content_filter", "content_filter")}
# OpenAI's error codes of a failed response → the gateway's status (and whether another endpoint may answer).
FAILED_STATUS: Mapping[str, tuple[int, bool]] = {"rate_limit_exceeded": (429, True), "server_error": (502, True),
                                                  "vector_store_timeout": (502, True)}
ERRORS = FAMILY  # transport's error mapping: the OpenAI family's, the same on every API of it


class ResponsesCall(Struct, frozen=True):
    body: Mapping[str, Any]  # the client's request body, as parsed
    endpoint: EndpointSpec
    host: ResolvedHost
    supported_parameters: frozenset[str]
    stream: bool


def build_request(call: ResponsesCall) -> HttpRequest:
    drop = NOT_FORWARDED | {f for f, p in SAMPLING_PARAMETERS.items() if p not in call.supported_parameters}
    body = {name: value for name, value in call.body.items() if name not in drop}
    body.update(model=call.endpoint.upstream_id, store=False, stream=call.stream)
    if isinstance(body.get("input"), list):
        body["input"] = [item for item in body["input"] if not _carried_reasoning(item)]
    if "reasoning" in call.supported_parameters:
        include = [name for name in body.get("include") or () if name != ENCRYPTED_REASONING]
        body["include"] = [*include, ENCRYPTED_REASONING]
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return FAMILY.request(call.host, "responses", data, EVENT_STREAM if call.stream else JSON)


def _carried_reasoning(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "reasoning" and is_carried(item.get("encrypted_content"))


class NativeAnswer(Struct, frozen=True):
    """OpenAI's whole answer, and what the books count of it."""

    body: dict[str, Any]
    events: list[StreamEvent]


def parse_response(body: bytes, provider: str) -> NativeAnswer:
    """OpenAI's answer, read (through `gateway.upstream.parsed`: whatever this raises blames the provider)."""
    data = parse_json_body(body)
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        raise malformed("a response without output", provider)
    if data.get("status") == "failed":
        raise failure(data.get("error"), provider)
    return NativeAnswer(data, events_of(data))


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list; an upstream's odd shapes (a string where a list goes) count as nothing."""
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def usage_of(usage: Any) -> TokenUsage:
    """Responses usage in the gateway's terms: input includes cached tokens, output includes reasoning."""
    usage = _object(usage)
    input_details, output_details = (_object(usage.get("input_tokens_details")),
                                     _object(usage.get("output_tokens_details")))
    return TokenUsage(prompt_tokens=token_count(usage.get("input_tokens"), "usage input_tokens"),
                      completion_tokens=token_count(usage.get("output_tokens"), "usage output_tokens"),
                      cached_tokens=token_count(input_details.get("cached_tokens"), "usage cached_tokens"),
                      reasoning_tokens=token_count(output_details.get("reasoning_tokens"), "usage reasoning_tokens"))


def finish_of(response: Mapping[str, Any]) -> Finish:
    if response.get("status") == "incomplete":
        reason = str(_object(response.get("incomplete_details")).get("reason"))
        return INCOMPLETE_FINISH.get(reason, Finish("length", reason))
    calls = any(item.get("type") == "function_call" for item in _objects(response.get("output")))
    return Finish("tool_calls", "completed") if calls else Finish("stop", "completed")


def _report(response: Mapping[str, Any]) -> list[StreamEvent]:
    """The end of an answer for the books: who answered, how it finished, what it used."""
    info = UpstreamInfo(model=_string(response.get("model")), id=_string(response.get("id")))
    return [info, finish_of(response), UsageReport(usage_of(response.get("usage")))]


def events_of(response: Mapping[str, Any]) -> list[StreamEvent]:
    """What the books count of a whole response: its text, reasoning and calls, its finish and its usage."""
    events: list[StreamEvent] = []
    for index, item in enumerate(_objects(response.get("output"))):
        events.extend(_item_events(index, item))
    return [*events, *_report(response)]


def _item_events(index: int, item: Mapping[str, Any]) -> Iterable[StreamEvent]:
    kind = item.get("type")
    if kind == "message":
        for part in _objects(item.get("content")):
            if part.get("type") == "output_text" and (text := _string(part.get("text"))):
                yield TextDelta(text)
            elif part.get("type") == "refusal" and (refusal := _string(part.get("refusal"))):
                yield RefusalDelta(refusal)
    elif kind == "reasoning":
        for part in [*_objects(item.get("summary")), *_objects(item.get("content"))]:
            if text := _string(part.get("text")):
                yield ReasoningDelta(text=text)
    elif kind in ("function_call", "custom_tool_call"):
        arguments = _string(item.get("arguments") if kind == "function_call" else item.get("input"))
        yield ToolCallDelta(index, _string(item.get("call_id")), _string(item.get("name")), arguments or "")


def failure(error: Any, provider: str) -> GatewayError:
    """A failed response (or an `error` event) as the gateway's error."""
    error = _object(error)
    status, retryable = FAILED_STATUS.get(str(error.get("code")), (502, True))
    message = str(error.get("message") or "the response failed")
    return GatewayError(status, f"{provider}: {message}", metadata={"provider_name": provider, "raw": error},
                        retryable=retryable, origin="upstream")


class NativeEvent(Struct, frozen=True):
    """One event of OpenAI's stream: its type, its JSON as sent and as parsed, and what the books count of it
    (read as the stream is decoded, so that an odd shape is the provider's fault like any other)."""

    type: str
    data: str
    parsed: dict[str, Any]
    counted: tuple[StreamEvent, ...]


class ResponsesStreamDecoder:
    """OpenAI's Responses stream → its events; an `error` event or a failed response raises (after the events
    before it reached the client), and so does a stream that ends before its terminal event."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._sse = SSEDecoder()
        self._ended = False
        self._held: GatewayError | None = None

    def feed(self, chunk: bytes) -> list[NativeEvent]:
        return self._decode(self._sse.feed(chunk))

    def close(self) -> list[NativeEvent]:
        events = self._decode(self._sse.flush())
        if self._held is not None:
            raise self._held
        if not self._ended:
            raise malformed("a stream that ended before its response was complete", self.provider)
        return events

    def _decode(self, sse_events: Iterable[Any]) -> list[NativeEvent]:
        if self._held is not None:
            raise self._held
        events: list[NativeEvent] = []
        for sse in sse_events:
            try:
                event = self._event(sse.data)
            except MalformedEvent as exc:
                held: GatewayError = malformed(f"an event the gateway cannot read: {exc}", self.provider)
                if not events:
                    raise held from None
                self._held = held
                break
            except GatewayError as exc:
                if not events:
                    raise
                self._held = exc
                break
            if event is not None:
                events.append(event)
        return events

    def _event(self, data: str) -> NativeEvent | None:
        if data == "[DONE]":
            return None
        try:
            parsed = json.loads(data)
        except ValueError:
            raise malformed("a stream event that is not JSON", self.provider) from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
            raise malformed("a stream event without a type", self.provider)
        kind = parsed["type"]
        if kind == "error":
            raise failure(parsed, self.provider)
        if kind.startswith("response.") and "response" in parsed and not isinstance(parsed["response"], dict):
            raise malformed(f"a {kind} event without its response", self.provider)
        if kind == "response.failed":
            raise failure(_object(parsed.get("response")).get("error"), self.provider)
        if kind in TERMINAL and not isinstance(parsed.get("response"), dict):
            raise malformed(f"a {kind} event without its response", self.provider)
        self._ended = self._ended or kind in TERMINAL
        return NativeEvent(kind, data, parsed, tuple(stream_events(kind, parsed)))


def stream_events(kind: str, data: Mapping[str, Any]) -> list[StreamEvent]:
    """What the books count of one streamed event."""
    delta = _string(data.get("delta")) or ""
    index = position if isinstance(position := data.get("output_index"), int) else 0
    if kind == "response.output_text.delta":
        return [TextDelta(delta)]
    if kind == "response.refusal.delta":
        return [RefusalDelta(delta)]
    if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
        return [ReasoningDelta(text=delta)]
    if kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
        return [ToolCallDelta(index, arguments=delta)]
    if kind == "response.output_item.added" and (item := _object(data.get("item"))).get("type") == "function_call":
        return [ToolCallDelta(index, _string(item.get("call_id")), _string(item.get("name")))]
    if kind in ("response.completed", "response.incomplete"):
        return _report(_object(data.get("response")))
    return []
