"""Anthropic Messages wire format: `POST {base}/v1/messages` (https://platform.claude.com/docs/en/api/messages).

Request translation is in `anthropic_request` / `anthropic_messages`, whole responses and errors in
`anthropic_response`, streams in `anthropic_stream`; this module is the `WireAdapter` seam and the HTTP
envelope (URL and headers).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent
from lambdarouter.providers.anthropic.request import build_body
from lambdarouter.providers.anthropic.response import map_error, parse_message
from lambdarouter.providers.anthropic.stream import AnthropicStreamDecoder
from lambdarouter.providers.base import HttpRequest, UpstreamCall

# The API version every request pins (https://platform.claude.com/docs/en/api/versioning). 2023-06-01 is
# the version the recordings were made with; it still accepts temperature/top_p/top_k, which the newer
# 2026-10-21 version rejects.
ANTHROPIC_VERSION = "2023-06-01"


def headers(call: UpstreamCall) -> dict[str, str]:
    host = call.host
    out = {
        "content-type": "application/json",
        "accept": "text/event-stream" if call.stream else "application/json",
        "anthropic-version": ANTHROPIC_VERSION,
        **host.spec.headers,  # a configured host may add e.g. `anthropic-beta`
    }
    if host.api_key and host.spec.auth == "x-api-key":
        out["x-api-key"] = host.api_key
    elif host.api_key and host.spec.auth == "bearer":  # Anthropic-compatible proxies that take a bearer token
        out["authorization"] = f"Bearer {host.api_key}"
    return out


class AnthropicAdapter:
    # Anthropic takes http(s) image URLs itself (`source.type: url`): no fetching in the gateway.
    needs_image_bytes = False

    def build_request(self, call: UpstreamCall) -> HttpRequest:
        body = json.dumps(build_body(call), separators=(",", ":")).encode()
        return HttpRequest("POST", f"{call.host.base_url}/v1/messages", headers(call), body)

    def parse_response(self, body: bytes) -> list[StreamEvent]:
        return parse_message(body)

    def stream_decoder(self) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder()

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        return map_error(status, headers, body, provider)
