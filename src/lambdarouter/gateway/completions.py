"""POST /completions (legacy `prompt`) as a streaming `Operation`, whichever way each candidate serves it.

An endpoint whose catalog row lists the `completions` API gets the request natively (every prompt form and
legacy feature it lists in `supported_parameters`); a chat-only endpoint gets the prompt as one user message
of a chat request through its own wire format, which cannot honour the legacy-only features. Which path a
candidate takes is data (`EndpointSpec.apis`); one request may fall back from one kind to the other. A
feature no candidate can honour is a 400 before any upstream call. Admission, failover, the ledger row and
`usage.cost` are `Gateway.run` / `run_stream`'s, as for every operation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from lambdarouter.core.budget import (
    BYTES_PER_TOKEN_RESERVED,
    CHARS_PER_TOKEN_CHARGED,
    TOKENS_PER_INPUT,
    PromptSize,
    Quote,
    prompt_price,
)
from lambdarouter.core.conversation import ChatRequest
from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.core.events import (
    Finish,
    StreamEvent,
    TextDelta,
    TokenUsage,
    UpstreamInfo,
    UsageReport,
)
from lambdarouter.core.routing import Candidate
from lambdarouter.dialects.openrouter.answer import usage_body
from lambdarouter.dialects.openrouter.answer_schema import Usage
from lambdarouter.dialects.openrouter.assemble import Accumulator, Identity
from lambdarouter.dialects.openrouter.completions import (
    CompletionChoice,
    CompletionRequest,
    TextCompletion,
    describe,
    error_body,
)
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.gateway.operation import Opened, Receipt, StreamingOperation, keep_or_400
from lambdarouter.gateway.upstream import parsed
from lambdarouter.providers import adapter_for, transport
from lambdarouter.providers.base import UpstreamCall, decoded
from lambdarouter.providers.openai.chat import FINISH_REASONS
from lambdarouter.providers.openai.completions import (
    CompletionsStreamDecoder,
    NativeCall,
    OpenAICompletions,
    TextPiece,
)

NATIVE = OpenAICompletions()


def native(candidate: Candidate) -> bool:
    """Whether this endpoint serves the legacy API itself (else the prompt is translated to chat)."""
    return "completions" in candidate.endpoint.apis


def _size(request: CompletionRequest) -> PromptSize:
    prompts = request.prompts()
    if isinstance(prompts[0], str):
        joined = "".join(p for p in prompts if isinstance(p, str))
        return PromptSize(len(joined.encode()), len(joined), 0, 0, TOKENS_PER_INPUT * len(prompts))
    count = sum(len(p) for p in prompts)  # token ids: reserve and estimate exactly their number
    return PromptSize(count * BYTES_PER_TOKEN_RESERVED, count * CHARS_PER_TOKEN_CHARGED, 0, 0)


class TextCompletionOperation(StreamingOperation[TextPiece, TextCompletion, TextPiece, TextCompletion]):
    output = "text"

    def __init__(self, request: CompletionRequest) -> None:
        self.request = request
        self.model_ids = request.model_ids()
        if not self.model_ids:
            raise bad_request("Request must name a model (`model` or `models`).")
        self.provider = request.provider
        self.size = _size(request)
        self.features = request.legacy_features()
        self.chat: ChatRequest | None = None  # the chat translation, built once if a candidate needs it

    def narrow(self, candidates: list[Candidate]) -> list[Candidate]:
        kept = keep_or_400(candidates, self._refusal)
        if not all(native(c) for c in kept):
            # A 400 here, before any upstream call, if it cannot translate.
            self.chat = to_canonical(self.request.to_chat())
        return kept

    def _refusal(self, candidate: Candidate) -> str | None:
        if native(candidate):
            missing = [f for f in self.features if f not in candidate.supported_parameters]
            return f"does not take {describe(missing)}" if missing else None
        return f"is a chat model, which cannot take {describe(self.features)}" if self.features else None

    def quote(self, candidate: Candidate) -> Quote:
        """The prompt once, plus every completion generated (`best_of` or `n` per prompt) at full length."""
        e = candidate.endpoint
        out = self.request.max_tokens or e.max_output_tokens or e.context_length
        generated = len(self.request.prompts()) * self.request.choices_per_prompt() * out
        prompt_cost = self.size.reserved_tokens * prompt_price(e) + e.request
        price = max(e.completion, e.reasoning or Decimal(0))
        return Quote(prompt_cost + generated * price, prompt_cost, generated, price)

    def _native_call(self, candidate: Candidate, stream: bool) -> NativeCall:
        return NativeCall(self.request, candidate.endpoint, candidate.host, candidate.supported_parameters, stream)

    def _chat_call(self, candidate: Candidate, stream: bool) -> UpstreamCall:
        assert self.chat is not None, "narrow() translates the request when a chat candidate is kept"
        return UpstreamCall(self.chat, candidate.endpoint, candidate.host, candidate.supported_parameters, stream)

    async def attempt(self, candidate: Candidate) -> TextPiece:
        provider, timeout = candidate.host.spec.name, transport.timeout_for(candidate.host.spec)
        if native(candidate):
            body = await transport.send(NATIVE.build_request(self._native_call(candidate, False)), NATIVE, provider,
                                        timeout)
            return parsed(provider, NATIVE.parse_response, body, provider)
        adapter, call = adapter_for(candidate.host.spec.wire_format), self._chat_call(candidate, False)
        body = await transport.send(adapter.build_request(call), adapter, provider, timeout)
        return _folded(parsed(provider, adapter.parse_response, body, call))

    def outcome(self, result: TextPiece) -> tuple[Sequence[StreamEvent], int]:
        return self.events(result), 0

    async def answer(self, result: TextPiece, receipt: Receipt) -> TextCompletion:
        answer = _completion(receipt.identity(), result.choices, result.system_fingerprint)
        answer.usage = Usage.model_validate(usage_body(receipt.usage, receipt.cost))
        return answer

    async def open(self, candidate: Candidate) -> Opened[TextPiece]:
        provider, timeout = candidate.host.spec.name, transport.timeout_for(candidate.host.spec)
        if native(candidate):
            native_request = NATIVE.build_request(self._native_call(candidate, True))
            stack, raw = await transport.open_held(native_request, NATIVE, provider, timeout)
            return stack, decoded(raw, CompletionsStreamDecoder(provider))
        adapter, call = adapter_for(candidate.host.spec.wire_format), self._chat_call(candidate, True)
        stack, raw = await transport.open_held(adapter.build_request(call), adapter, provider, timeout)
        return stack, _chat_pieces(decoded(raw, adapter.stream_decoder(call)))

    # Renderer: how the relay counts and shows the pieces.
    def events(self, piece: TextPiece) -> Sequence[StreamEvent]:
        events: list[StreamEvent] = [TextDelta(c.text) for c in piece.choices if c.text]
        events.extend(Finish(FINISH_REASONS.get(c.finish_reason, "stop"), c.finish_reason)
                      for c in piece.choices if c.finish_reason)
        if piece.usage is not None:
            events.append(UsageReport(piece.usage))
        return events

    def chunk(self, identity: Identity, piece: TextPiece, first: bool) -> TextCompletion | None:
        if not piece.choices:
            return None
        return _completion(identity, piece.choices, piece.system_fingerprint)

    def ending(self, identity: Identity, usage: TokenUsage, cost: Decimal,
               error: GatewayError | None) -> Sequence[TextCompletion]:
        last = _completion(identity, [], None)
        last.usage = Usage.model_validate(usage_body(usage, cost))
        if error is None:
            return [last]
        failed = _completion(identity, [CompletionChoice(text="", finish_reason="error")], None)
        failed.error = error_body(error)
        return [failed, last]


def _completion(identity: Identity, choices: list[CompletionChoice], fingerprint: str | None) -> TextCompletion:
    return TextCompletion(id=identity.id, created=identity.created, model=identity.model,
                          provider=identity.provider, choices=choices, system_fingerprint=fingerprint)


def _folded(events: list[StreamEvent]) -> TextPiece:
    """A chat answer's events as one text choice."""
    acc = Accumulator()
    for event in events:
        acc.add(event)
    finish = acc.finish
    choice = CompletionChoice(text="".join(acc.text), finish_reason=finish.reason if finish else "stop",
                              native_finish_reason=finish.native if finish else None)
    return TextPiece([choice], acc.usage, acc.system_fingerprint)


def _chat_piece(event: StreamEvent) -> TextPiece | None:
    """One chat stream event as a text piece; None for what a text client does not see (reasoning, tools)."""
    match event:
        case TextDelta(text):
            return TextPiece([CompletionChoice(text=text)])
        case Finish(reason, native_reason):
            return TextPiece([CompletionChoice(text="", finish_reason=reason, native_finish_reason=native_reason)])
        case UsageReport(usage):
            return TextPiece(usage=usage)
        case UpstreamInfo(_, fingerprint) if fingerprint:
            return TextPiece(system_fingerprint=fingerprint)
    return None


async def _chat_pieces(events: AsyncIterator[StreamEvent]) -> AsyncIterator[TextPiece]:
    async for event in events:
        if (piece := _chat_piece(event)) is not None:
            yield piece
