"""OpenAI's legacy Completions wire format (`POST /completions` with a `prompt`): OpenAI itself and the
OpenAI-compatible hosts that kept it (vLLM, Together, Fireworks, Ollama, ...).

Reference: https://platform.openai.com/docs/api-reference/completions — the request is the client's own minus
the gateway's fields and the parameters the endpoint does not list, with the upstream model id; the answer
(and each stream chunk, `data: {...}` until `data: [DONE]`) is a `text_completion` whose choices carry
`text`, `index`, `logprobs` and `finish_reason`. Usage arrives in a stream only when asked for with
`stream_options.include_usage`, as one last chunk with no choices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from msgspec import Struct, field

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import MalformedEvent, TokenUsage
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.core.parameters import PARAMETER_OF_FIELD
from lambdarouter.dialects.openrouter.chat import OPENROUTER_ONLY_FIELDS
from lambdarouter.dialects.openrouter.completions import CompletionChoice, CompletionRequest
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.family import Member
from lambdarouter.providers.openai.chat import usage_from
from lambdarouter.providers.openai.family import EVENT_STREAM, FAMILY, JSON
from lambdarouter.providers.sse import SSEDecoder

# Parameters of the legacy API that chat's PARAMETER_OF_FIELD does not name (spec.LEGACY_PARAMETERS).
LEGACY_FIELDS = {"suffix": "suffix", "echo": "echo", "best_of": "best_of"}


class NativeCall(Struct, frozen=True):
    """One attempt at a native /completions endpoint."""

    request: CompletionRequest
    endpoint: EndpointSpec
    host: ResolvedHost
    supported_parameters: frozenset[str]
    stream: bool


class TextPiece(Struct, frozen=True):
    """A whole legacy answer, or one piece of a stream: choices (deltas when streamed), usage if reported."""

    choices: list[CompletionChoice] = field(default_factory=list)
    usage: TokenUsage | None = None
    system_fingerprint: str | None = None

    def __post_init__(self) -> None:  # checked as the chat events are (providers/events.py)
        if not isinstance(self.system_fingerprint, str | None):
            raise MalformedEvent("the system fingerprint is not a string")


def build_body(call: NativeCall) -> dict[str, Any]:
    request = call.request
    fields = request.model_dump(mode="json", exclude_unset=True)
    parameters = {**PARAMETER_OF_FIELD, **LEGACY_FIELDS}
    unsupported = {name for name in fields
                   if (param := parameters.get(name)) is not None and param not in call.supported_parameters}
    body: dict[str, Any] = {"model": call.endpoint.upstream_id}
    body.update({k: v for k, v in fields.items() if k not in OPENROUTER_ONLY_FIELDS | unsupported | {"model"}})
    body["stream"] = call.stream
    if call.stream:
        body["stream_options"] = {"include_usage": True}  # the gateway always needs usage to charge
    return body


def _choice(raw: Mapping[str, Any], position: int) -> CompletionChoice:
    finish = raw.get("finish_reason")
    logprobs = raw.get("logprobs")
    return CompletionChoice(text=str(raw.get("text") or ""), index=int(raw.get("index", position)),
                            logprobs=logprobs if isinstance(logprobs, dict) else None,
                            finish_reason=finish, native_finish_reason=finish)


def _piece(data: Any, provider: str) -> TextPiece:
    if not isinstance(data, dict) or not isinstance(data.get("choices", []), list):
        raise malformed("a completion that is not an object with choices", provider)
    usage = usage_from(data["usage"]) if isinstance(data.get("usage"), dict) else None
    return TextPiece([_choice(c, i) for i, c in enumerate(data.get("choices") or []) if isinstance(c, dict)],
                     usage, data.get("system_fingerprint"))


class OpenAICompletions(Member):
    """Pure translation; `transport` sends. Errors are the family's (same error body as chat)."""

    family = FAMILY

    def build_request(self, call: NativeCall) -> HttpRequest:
        body = json.dumps(build_body(call), separators=(",", ":")).encode()
        return FAMILY.request(call.host, "completions", body, EVENT_STREAM if call.stream else JSON)

    def parse_response(self, body: bytes, provider: str) -> TextPiece:
        piece = _piece(parse_json_body(body), provider)
        if not piece.choices:
            raise malformed("a completion without choices", provider)
        return piece


class CompletionsStreamDecoder:
    """`data: {text_completion chunk}` events until `data: [DONE]`."""

    def __init__(self, provider: str) -> None:
        self._sse = SSEDecoder()
        self._provider = provider
        self._done = False
        self._finished = False

    def feed(self, chunk: bytes) -> list[TextPiece]:
        return [piece for sse in self._sse.feed(chunk) if (piece := self._event(sse.data)) is not None]

    def close(self) -> list[TextPiece]:
        pieces = [piece for sse in self._sse.flush() if (piece := self._event(sse.data)) is not None]
        if not (self._done or self._finished):
            raise malformed("a stream that ended before its last chunk", self._provider)
        return pieces

    def _event(self, data: str) -> TextPiece | None:
        if data == "[DONE]":
            self._done = True
            return None
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise malformed("a stream chunk that is not JSON", self._provider) from exc
        if isinstance(chunk, dict) and "error" in chunk and not chunk.get("choices"):
            # OpenRouter-style mid-stream error, as the chat decoder reads it (providers/openai.py).
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
            raise GatewayError(502, str(error.get("message", "upstream error")), metadata={"raw": chunk})
        piece = _piece(chunk, self._provider)
        self._finished = self._finished or any(c.finish_reason for c in piece.choices)
        return piece
