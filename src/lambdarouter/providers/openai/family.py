"""The OpenAI family: OpenAI itself, Azure and every OpenAI-compatible host (a host row, no code).

What its chat, legacy completions, embeddings and image adapters share: the URL layout (`{base_url}/{path}`,
the base URL including `/v1` as the OpenAI SDK reads it), the credential header the host row names (a bearer
token, or Azure's `api-key`) and the error body, `{"error": {"message", "type", "code"}}`
(https://platform.openai.com/docs/guides/error-codes).
"""

from __future__ import annotations

from collections.abc import Mapping

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.base import HttpRequest, parse_json_body, upstream_error
from lambdarouter.providers.family import Family

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


class OpenAIFamily(Family):
    name = "openai"
    chat_adapter = "lambdarouter.providers.openai.chat:ADAPTER"
    embeddings_adapter = "lambdarouter.providers.openai.embeddings:ADAPTER"
    image_adapters = (("", "lambdarouter.providers.openai.images:ADAPTER"),)

    def request(self, host: ResolvedHost, path: str, body: bytes, accept: str = JSON) -> HttpRequest:
        headers = {"content-type": JSON, **host.spec.headers}
        if host.api_key and host.spec.auth == "bearer":
            headers["authorization"] = f"Bearer {host.api_key}"
        elif host.api_key and host.spec.auth == "api-key-header":
            headers["api-key"] = host.api_key
        headers["accept"] = accept
        return HttpRequest("POST", f"{host.base_url}/{path}", headers, body)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        raw = parse_json_body(body)
        error = raw.get("error") if isinstance(raw, dict) else None
        message = str(error.get("message") or "") if isinstance(error, dict) else str(error or "")
        return upstream_error(status, headers, raw, message, provider)


FAMILY = OpenAIFamily()
