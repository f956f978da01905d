"""The Anthropic family: Anthropic's API and Anthropic-compatible proxies (chat only).

What it shares with every host speaking Anthropic Messages: the URL (`POST {base}/v1/messages`), the pinned API
version and the credential header the host row names (`x-api-key`, or a bearer token for proxies that take
one), and the error body (`response.map_error`). Claude on Vertex AI reuses the body and the answers, with
Vertex's own URL and credentials (providers/vertex).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.anthropic.response import map_error
from lambdarouter.providers.base import HttpRequest
from lambdarouter.providers.family import ErrorSeam, Family

# The API version every request pins (https://platform.claude.com/docs/en/api/versioning). 2023-06-01 is
# the version the recordings were made with; it still accepts temperature/top_p/top_k, which the newer
# 2026-10-21 version rejects.
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicHost(ErrorSeam, Protocol):
    """Where an Anthropic Messages body goes and how it authenticates: Anthropic's API, or Vertex AI's."""

    def messages_request(self, host: ResolvedHost, body: Mapping[str, Any], stream: bool) -> HttpRequest: ...


class AnthropicFamily(Family):
    name = "anthropic"
    chat_adapter = "lambdarouter.providers.anthropic.chat:ADAPTER"

    def messages_request(self, host: ResolvedHost, body: Mapping[str, Any], stream: bool) -> HttpRequest:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
            **host.spec.headers,  # a configured host may add e.g. `anthropic-beta`
        }
        if host.api_key and host.spec.auth == "x-api-key":
            headers["x-api-key"] = host.api_key
        elif host.api_key and host.spec.auth == "bearer":  # Anthropic-compatible proxies that take a bearer token
            headers["authorization"] = f"Bearer {host.api_key}"
        payload = json.dumps(body, separators=(",", ":")).encode()
        return HttpRequest("POST", f"{host.base_url}/v1/messages", headers, payload)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        return map_error(status, headers, body, provider)


FAMILY = AnthropicFamily()
