"""POST /responses (OpenAI's Responses API) as a streaming `Operation`, whichever way each candidate serves it.

An OpenAI model on OpenAI's own API gets the request natively (providers/openai/responses.py): the body as the
client sent it, OpenAI's answer and events forwarded as they come, read on the side for the books. Every other
endpoint (Anthropic, Gemini, Bedrock, OpenAI-compatible hosts) gets the request translated
(dialects/responses/translate.py) through its own wire format, and its events rendered back into Responses
items and events (dialects/responses/render.py). One request may fall back from one kind to the other. What
only OpenAI can serve (built-in tools and their items) narrows the candidates to OpenAI's, or is a 400 naming
it. Admission, failover, the ledger row and `usage.cost` are `Gateway.operate` / `operate_stream`'s, as for
every operation; the cost the client is told is the one booked (`ending`, `answer`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from msgspec import Struct

from lambdarouter.core.budget import Quote, output_price, prompt_price
from lambdarouter.core.conversation import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Part,
    ToolResultPart,
    VideoPart,
)
from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.core.events import StreamEvent, TokenUsage, UpstreamInfo
from lambdarouter.core.parameters import asked
from lambdarouter.core.routing import COMPLETIONS_ONLY, FILTERS, Candidate, Needs, Subject
from lambdarouter.dialects.openrouter.assemble import Identity
from lambdarouter.dialects.openrouter.chat import ProviderPreferences
from lambdarouter.dialects.responses.answer import echo_of, output_text, response_body, usage_body
from lambdarouter.dialects.responses.render import ResponseRenderer
from lambdarouter.dialects.responses.request import ResponsesRequest
from lambdarouter.dialects.responses.size import measure
from lambdarouter.dialects.responses.translate import Translation, translate
from lambdarouter.gateway.image_fetch import inline_remote_images
from lambdarouter.gateway.operation import Opened, Receipt, StreamingOperation, keep_or_400
from lambdarouter.gateway.upstream import parsed
from lambdarouter.providers import adapter_for, transport
from lambdarouter.providers.base import UpstreamCall, decoded
from lambdarouter.providers.openai.responses import (
    ERRORS,
    NativeAnswer,
    NativeEvent,
    ResponsesCall,
    ResponsesStreamDecoder,
    build_request,
    parse_response,
)

# Hosts whose API is OpenAI's own, which has POST /v1/responses (https://platform.openai.com/docs/api-reference/
# responses): their models get the Responses request natively.
NATIVE_HOSTS = frozenset({"openai"})
STATELESS = ("lambdarouter's Responses API is stateless: no response is stored (as OpenRouter's); send the whole "
             "conversation in `input` (reasoning models: with `include: [\"reasoning.encrypted_content\"]`)")

Piece = NativeEvent | StreamEvent
NOTHING_COUNTED = UpstreamInfo()
Result = NativeAnswer | list[StreamEvent]  # OpenAI's own response object, or a translated answer's events


# Canonical part → the input modality a model must have to take it (OpenRouter's `input_modalities` names).
INPUT_MODALITIES: tuple[tuple[type, str], ...] = ((ImagePart, "image"), (AudioPart, "audio"), (VideoPart, "video"),
                                                  (FilePart, "file"))


def _with_results(parts: Sequence[Part]) -> list[Part]:
    """Parts with the content of tool results spread in after them."""
    return [inner for part in parts
            for inner in ([part, *_with_results(part.content)] if isinstance(part, ToolResultPart) else [part])]


def native(candidate: Candidate) -> bool:
    return candidate.endpoint.host in NATIVE_HOSTS


class Frames(Struct, frozen=True):
    """Responses stream events as they go out: `event: <type>` and `data: <json>` each."""

    body: bytes

    @classmethod
    def of(cls, events: Sequence[Mapping[str, Any]]) -> Frames:
        return cls(b"".join(frame(str(e["type"]), json.dumps(e, ensure_ascii=False)) for e in events))


def frame(kind: str, data: str) -> bytes:
    return f"event: {kind}\ndata: {data}\n\n".encode()


def refuse_state(request: ResponsesRequest) -> None:
    """400 for what needs a stored response: the gateway keeps none (docs/responses.md says why)."""
    for name, value in (("previous_response_id", request.previous_response_id),
                        ("conversation", request.conversation), ("background", request.background or None)):
        if value is not None:
            raise bad_request(f"`{name}` is not supported: {STATELESS}.", parameter=name)


class ResponsesOperation(StreamingOperation[Result, dict[str, Any], Piece, Frames]):
    def __init__(self, request: ResponsesRequest, body: bytes) -> None:
        refuse_state(request)
        self.request, self.body = request, body
        self.model_ids = request.model_ids()
        if not self.model_ids:
            raise bad_request("Request must name a model (`model` or `models`).")
        self.provider: ProviderPreferences | None = request.provider
        self.size = measure(request)
        self.echo = echo_of(request)
        self._translation: Translation | None = None
        self._inlined: ChatRequest | None = None  # the translation with remote images fetched, once
        self._native_body: dict[str, Any] | None = None
        self._stream: NativeStream | ResponseRenderer | None = None  # how the opened stream is shown

    # -- which endpoints ---------------------------------------------------------------------------------------
    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        """OpenAI's own endpoints take any Responses request; the others its translation, when there is one."""
        translated = [c for c in candidates if not native(c)]
        if translated:
            try:
                self._translation = translate(self.request, self.body)
            except GatewayError:
                if len(translated) == len(candidates):
                    raise  # no OpenAI endpoint among the candidates: the 400 names what only OpenAI can serve
                candidates = [c for c in candidates if native(c)]
        return keep_or_400(candidates, self._refusal)

    def _refusal(self, candidate: Candidate) -> str | None:
        if "chat" not in candidate.endpoint.apis:
            return COMPLETIONS_ONLY
        if native(candidate) or self._translation is None:
            return None
        needs = self._needs(self._translation.request)
        subject = Subject(candidate.endpoint, candidate.model, candidate.host.spec, candidate.supported_parameters)
        prefs = self.provider or ProviderPreferences()
        return next((why for check in FILTERS if (why := check(subject, needs, prefs)) is not None), None)

    def _needs(self, request: ChatRequest) -> Needs:
        """What the translated request asks of an endpoint, as chat's routing filters read it (`Needs.of` reads a
        chat request)."""
        fmt = request.output
        kind = ("json_schema" if isinstance(fmt, JsonSchemaFormat) else
                "json_object" if isinstance(fmt, JsonObjectFormat) else None)
        inputs = frozenset(modality for message in request.messages for part in _with_results(message.parts)
                           for part_type, modality in INPUT_MODALITIES if isinstance(part, part_type))
        return Needs(bool(request.tools), inputs, kind, self.size.charged_tokens + (request.max_output_tokens or 0),
                     asked(request))

    def quote(self, candidate: Candidate) -> Quote:
        """The prompt estimate, plus every output token the endpoint may produce, at its dearest prices."""
        e = candidate.endpoint
        out = self.request.max_output_tokens or e.max_output_tokens or e.context_length
        prompt_cost = (self.size.reserved_tokens * prompt_price(e) + e.request
                       + self.size.images * e.image)
        return Quote(prompt_cost + out * output_price(e), prompt_cost, out, output_price(e))

    # -- one endpoint ------------------------------------------------------------------------------------------
    async def attempt(self, candidate: Candidate) -> Result:
        provider, timeout = candidate.host.spec.name, transport.timeout_for(candidate.host.spec)
        if native(candidate):
            body = await transport.send(build_request(self._native_call(candidate, False)), ERRORS, provider, timeout)
            return parsed(provider, parse_response, body, provider)
        adapter = adapter_for(candidate.host.spec.wire_format)
        call = await self._chat_call(candidate, adapter.needs_image_bytes, False)
        body = await transport.send(adapter.build_request(call), adapter, provider, timeout)
        return parsed(provider, adapter.parse_response, body, call)

    def outcome(self, result: Result) -> tuple[Sequence[StreamEvent], int]:
        return (result.events if isinstance(result, NativeAnswer) else result), 0

    async def open(self, candidate: Candidate) -> Opened[Piece]:
        provider, timeout = candidate.host.spec.name, transport.timeout_for(candidate.host.spec)
        pieces: AsyncIterator[Piece]
        if native(candidate):
            request = build_request(self._native_call(candidate, True))
            stack, raw = await transport.open_held(request, ERRORS, provider, timeout)
            pieces = decoded(raw, ResponsesStreamDecoder(provider))
            self._stream = NativeStream(self.echo)
        else:
            adapter = adapter_for(candidate.host.spec.wire_format)
            call = await self._chat_call(candidate, adapter.needs_image_bytes, True)
            stack, raw = await transport.open_held(adapter.build_request(call), adapter, provider, timeout)
            pieces = decoded(raw, adapter.stream_decoder(call))
            self._stream = self._renderer()
        return stack, pieces

    def _native_call(self, candidate: Candidate, stream: bool) -> ResponsesCall:
        if self._native_body is None:
            self._native_body = json.loads(self.body)
        return ResponsesCall(self._native_body, candidate.endpoint, candidate.host, candidate.supported_parameters,
                             stream)

    async def _chat_call(self, candidate: Candidate, needs_bytes: bool, stream: bool) -> UpstreamCall:
        assert self._translation is not None, "narrow() translates the request when a translated candidate is kept"
        request = self._translation.request
        if needs_bytes:
            if self._inlined is None:
                self._inlined = await inline_remote_images(request)
            request = self._inlined
        return UpstreamCall(request, candidate.endpoint, candidate.host, candidate.supported_parameters, stream)

    def _renderer(self) -> ResponseRenderer:
        names = self._translation.tool_names if self._translation is not None else None
        reasoning = self.request.reasoning
        return ResponseRenderer(self.echo, names, show_reasoning=not (reasoning and reasoning.exclude))

    # -- Renderer: how the relay counts and shows the pieces ---------------------------------------------------
    def events(self, piece: Piece) -> Sequence[StreamEvent]:
        if isinstance(piece, NativeEvent):
            # Every OpenAI event is forwarded, also those the books do not count (`response.created`, an item
            # added...): the relay shows a piece only when it counts something, so they count an empty report.
            return piece.counted or (NOTHING_COUNTED,)
        return (piece,)

    def chunk(self, identity: Identity, piece: Piece, first: bool) -> Frames | None:
        if isinstance(self._stream, NativeStream):
            assert isinstance(piece, NativeEvent)
            return self._stream.chunk(identity, piece)
        assert isinstance(self._stream, ResponseRenderer) and not isinstance(piece, NativeEvent)
        events = self._stream.render(identity, piece)
        return Frames.of(events) if events else None

    def ending(self, identity: Identity, usage: TokenUsage, cost: Decimal,
               error: GatewayError | None) -> Sequence[Frames]:
        shown = self._stream if self._stream is not None else self._renderer()
        events = shown.ending(identity, usage_body(usage, cost), error, int(time.time()))
        return [Frames.of(events)]

    # -- the whole answer --------------------------------------------------------------------------------------
    async def answer(self, result: Result, receipt: Receipt) -> dict[str, Any]:
        identity, usage = receipt.identity(), usage_body(receipt.usage, receipt.cost)
        if isinstance(result, NativeAnswer):
            return rewritten(result.body, identity, usage)
        renderer = self._renderer()
        for event in result:
            renderer.render(identity, event)
        renderer.close_all()
        return renderer.response(identity, usage, None, int(time.time()))


# Fields OpenRouter's response object requires that OpenAI's may leave out (OpenRouter's `BaseResponsesResult`).
OPENROUTER_REQUIRED = {"completed_at": None, "presence_penalty": None, "frequency_penalty": None}


def rewritten(response: Mapping[str, Any], identity: Identity, usage: dict[str, Any] | None) -> dict[str, Any]:
    """OpenAI's response object as the gateway's: its generation id, the catalog model, and the usage as booked."""
    body = {**OPENROUTER_REQUIRED, **response, "id": identity.id, "model": identity.model}
    if isinstance(body.get("output"), list):
        body["output_text"] = output_text(body["output"])
    if usage is not None:
        body["usage"] = usage
    elif body.get("usage") is None:  # OpenAI's null before the end: left out (OpenRouter's schema has no null usage)
        body.pop("usage", None)
    return body


class NativeStream:
    """OpenAI's stream as forwarded: each event as sent, but the lifecycle events with the gateway's identity, and
    the terminal one held back until the books are closed (it carries the booked usage and cost)."""

    def __init__(self, echo: Mapping[str, Any]) -> None:
        self.echo = echo
        self.sequence = -1
        self.items: dict[int, dict[str, Any]] = {}  # finished output items, for a failed response's `output`
        self.terminal: dict[str, Any] | None = None

    def chunk(self, identity: Identity, event: NativeEvent) -> Frames | None:
        data = event.parsed
        if isinstance(number := data.get("sequence_number"), int):
            self.sequence = number
        if event.type in ("response.completed", "response.incomplete"):
            self.terminal = data
            return None
        if event.type == "response.output_item.done" and isinstance(data.get("item"), dict):
            index = data.get("output_index")
            self.items[index if isinstance(index, int) else len(self.items)] = data["item"]
        if isinstance(data.get("response"), dict):  # created, in_progress, queued
            shown = {**data, "response": rewritten(data["response"], identity, None)}
            return Frames(frame(event.type, json.dumps(shown, ensure_ascii=False)))
        return Frames(frame(event.type, event.data))

    def ending(self, identity: Identity, usage: dict[str, Any], error: GatewayError | None,
               completed_at: int) -> list[dict[str, Any]]:
        if error is None and self.terminal is not None:
            return [{**self.terminal, "response": rewritten(self.terminal["response"], identity, usage)}]
        output = [self.items[index] for index in sorted(self.items)]
        body = response_body(identity, self.echo, "failed" if error else "completed", output, usage, error=error,
                             completed_at=completed_at)
        kind = "response.failed" if error else "response.completed"
        return [{"type": kind, "response": body, "sequence_number": self.sequence + 1}]
