"""Claude on Bedrock in its native Messages body: InvokeModel / InvokeModelWithResponseStream, and CountTokens.

Bedrock takes a Messages request for Claude as the InvokeModel body
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html):
the client's body without `model` (it is in the path) and `stream` (the operation says it), with
`"anthropic_version": "bedrock-2023-05-31"` and the client's `anthropic-beta` header as the `anthropic_beta`
list, as Anthropic's own Bedrock client sends it. Every other member goes as the client wrote it, so cache
breakpoints and thinking signatures survive (Claude's signatures are valid across its platforms).

The non-streamed answer is a Messages answer. The stream is an AWS event stream whose `chunk` frames each hold
one Messages stream event as base64 JSON (`{"bytes": …}`), and whose exception frames are Bedrock's errors
(errors.stream_exception); `InvokeRelay` turns it into the same `Relayed` pieces as Anthropic's own stream.
CountTokens (`POST /model/{id}/count-tokens`) takes the same body, base64-encoded, under `input.invokeModel`.
Bedrock's Claude takes images as bytes only, so the gateway fetches URL images first (gateway/image_fetch.py, with
its SSRF checks) and puts their bytes in the body (`with_image_bytes`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.eventstream import EventStreamBuffer, ParserError
from botocore.utils import percent_encode

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.anthropic.body import rebuilt
from lambdarouter.providers.anthropic.passthrough import ClientHeaders, MessagesRelay, Relayed
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.bedrock.auth import Signer
from lambdarouter.providers.bedrock.errors import stream_exception
from lambdarouter.providers.common import malformed
from lambdarouter.providers.sse import SSEEvent

# Signs with the process's AWS credential chain (auth.py), reused by warm invocations like Bedrock's adapters.
SIGNER = Signer()
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
EVENTSTREAM = "application/vnd.amazon.eventstream"
NOT_IN_BODY = frozenset({"model", "stream"})
# The betas Bedrock's Claude takes in `anthropic_beta`: any other answers 400 "invalid beta flag", and Claude
# Code sends several that only Anthropic's own API knows (claude-code-20250219, advanced-tool-use-…), so the rest
# are left out rather than sent. Sources: the `anthropic_beta` parameter of AWS's Claude Messages request page
# (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html)
# and the list AWS's feature pages name (context-1m, context management, effort, tool search, tool examples).
BEDROCK_BETAS = frozenset({
    "computer-use-2024-10-22", "computer-use-2025-01-24", "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14", "output-128k-2025-02-19", "dev-full-thinking-2025-05-14",
    "context-1m-2025-08-07", "context-management-2025-06-27", "effort-2025-11-24", "tool-search-tool-2025-10-19",
    "tool-examples-2025-10-29",
})
# Cross-Region inference profile prefixes (https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference.html):
# CountTokens names the model itself.
PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|jp|au|ca|global|us-gov)\.(?=anthropic\.)")


def _image_sources(value: Any) -> Iterator[dict[str, Any]]:
    """The `source` of every image block given by URL, in messages and in tool results, in order."""
    if isinstance(value, list):
        for item in value:
            yield from _image_sources(item)
    elif isinstance(value, dict):
        source = value.get("source")
        if value.get("type") == "image" and isinstance(source, dict) and source.get("type") == "url":
            yield source
        yield from _image_sources(value.get("content"))


def url_images(body: bytes) -> list[str]:
    """The image URLs of a Messages body: Claude on Bedrock takes image bytes only (base64 sources)."""
    messages = json.loads(body).get("messages")
    return [str(source.get("url")) for source in _image_sources(messages)]


def with_image_bytes(body: bytes, fetched: Mapping[str, tuple[str, str]]) -> bytes:
    """The body with each URL image source replaced by its bytes (`fetched`: URL → media type, base64)."""
    data = json.loads(body)
    for source in _image_sources(data.get("messages")):
        media_type, encoded = fetched[str(source.get("url"))]
        source.clear()
        source.update({"type": "base64", "media_type": media_type, "data": encoded})
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def invoke_body(body: bytes, client: ClientHeaders, extra: dict[str, Any] | None = None) -> bytes:
    add: dict[str, Any] = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION}
    betas = [beta for beta in client.betas if beta in BEDROCK_BETAS]
    if betas:
        add["anthropic_beta"] = betas
    return rebuilt(body, NOT_IN_BODY, {**add, **(extra or {})})


def _url(host: ResolvedHost, region: str, model_id: str, operation: str) -> str:
    base = host.base_url.rstrip("/") or f"https://bedrock-runtime.{region}.amazonaws.com"
    return f"{base}/model/{percent_encode(model_id)}/{operation}"


def _signed(signer: Signer, url: str, accept: str, body: bytes, region: str) -> HttpRequest:
    headers = {"content-type": "application/json", "accept": accept}
    return HttpRequest("POST", url, signer.sign("POST", url, headers, body, region), body)


def invoke(signer: Signer, host: ResolvedHost, model_id: str, body: bytes, client: ClientHeaders,
           stream: bool) -> HttpRequest:
    region = signer.region()
    operation = "invoke-with-response-stream" if stream else "invoke"
    accept = EVENTSTREAM if stream else "application/json"
    return _signed(signer, _url(host, region, model_id, operation), accept, invoke_body(body, client), region)


def count_tokens(signer: Signer, host: ResolvedHost, model_id: str, body: bytes, client: ClientHeaders,
                 max_tokens: int) -> HttpRequest:
    """CountTokens for the model behind `model_id` (a profile counts as its model). The InvokeModel body needs a
    `max_tokens`, which a count request need not have: the caller's stands in (above any thinking budget); it
    does not change the input's count."""
    region = signer.region()
    inner = invoke_body(body, client, {"max_tokens": max_tokens})
    payload = json.dumps({"input": {"invokeModel": {"body": base64.b64encode(inner).decode()}}}).encode()
    url = _url(host, region, PROFILE_PREFIX.sub("", model_id), "count-tokens")
    return _signed(signer, url, "application/json", payload, region)


def counted_tokens(body: bytes, provider: str) -> int:
    data = parse_json_body(body)
    count = data.get("inputTokens") if isinstance(data, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise malformed("a CountTokens answer without inputTokens", provider)
    return count


class InvokeRelay:
    """InvokeModelWithResponseStream bytes → `Relayed` pieces: each `chunk` frame's Messages event, counted by the
    same side reader as Anthropic's own stream."""

    def __init__(self, provider: str) -> None:
        self._provider = provider  # the host's name: what its errors blame
        self._frames = EventStreamBuffer()
        self._fed = self._consumed = 0
        self._messages = MessagesRelay(provider)
        self._error: GatewayError | None = None  # raised once the events before it were handed on

    def feed(self, chunk: bytes) -> list[Relayed]:
        if self._error is not None:
            raise self._error
        self._fed += len(chunk)
        self._frames.add_data(chunk)
        events: list[SSEEvent] = []
        try:
            for frame in self._frames:
                self._consumed += frame.prelude.total_length
                if (event := self._event(frame.headers, frame.payload)) is not None:
                    events.append(event)
        except ParserError as exc:  # a bad CRC or length: the rest cannot be trusted
            self._error = malformed(f"a corrupt event-stream frame ({type(exc).__name__})", self._provider)
        except GatewayError as exc:  # an exception frame, or a chunk that is not a Messages event
            self._error = exc
        if self._error is not None and not events:
            raise self._error
        return self._messages.feed(b"".join(_sse(e) for e in events)) if events else []

    def close(self) -> list[Relayed]:
        if self._error is not None:
            raise self._error
        if self._fed != self._consumed:
            raise malformed("a stream that ended inside an event-stream frame", self._provider)
        return self._messages.close()

    def _event(self, headers: dict[str, Any], payload: bytes) -> SSEEvent | None:
        if headers.get(":message-type") in ("exception", "error"):
            raise stream_exception(headers, payload, self._provider)
        if headers.get(":event-type") != "chunk":
            return None  # the stream's only event type today; a newer one is not Messages content
        try:
            part = json.loads(payload)
            data = base64.b64decode(part["bytes"], validate=True).decode("utf-8")
            name = json.loads(data)["type"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise malformed("a chunk that is not a base64 Messages event", self._provider) from None
        return SSEEvent(str(name), data)


def _sse(event: SSEEvent) -> bytes:
    return f"event: {event.event}\ndata: {event.data}\n\n".encode()
