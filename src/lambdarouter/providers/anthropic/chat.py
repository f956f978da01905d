"""Anthropic Messages wire format: `POST {base}/v1/messages` (https://platform.claude.com/docs/en/api/messages).

Request translation is in `request` / `messages`, whole responses and errors in `response`, streams in
`stream`; this module is the `WireAdapter` seam. The URL, headers and error seam are the family's.
"""

from __future__ import annotations

from lambdarouter.core.events import StreamEvent
from lambdarouter.providers.anthropic.family import FAMILY, AnthropicHost
from lambdarouter.providers.anthropic.request import build_body
from lambdarouter.providers.anthropic.stream import AnthropicStreamDecoder, parse_message
from lambdarouter.providers.base import HttpRequest, UpstreamCall, host_of
from lambdarouter.providers.family import Member


class AnthropicAdapter(Member):
    # Anthropic takes http(s) image URLs itself (`source.type: url`): no fetching in the gateway.
    needs_image_bytes = False

    def __init__(self, family: AnthropicHost = FAMILY) -> None:
        self.family: AnthropicHost = family

    def build_request(self, call: UpstreamCall) -> HttpRequest:
        return self.family.messages_request(call.host, build_body(call), call.stream)

    def parse_response(self, body: bytes, call: UpstreamCall | None = None) -> list[StreamEvent]:
        return parse_message(body, host_of(call))

    def stream_decoder(self, call: UpstreamCall | None = None) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(host_of(call))


ADAPTER = AnthropicAdapter()
