"""The Gemini family: the Gemini API (host `google-ai-studio`) and Gemini-format proxies.

What its chat, embeddings and image adapters share: the URL layout, `POST {base}/v1beta/models/{model}:{method}`
(https://ai.google.dev/api/generate-content), the key in the `x-goog-api-key` header, never in the URL (`?key=`
would put it in every access log and error message that prints URLs), and the google.rpc.Status error body
(`errors.map_error`). Gemini on Vertex AI reuses the adapters with Vertex's URL layout and credentials
(providers/vertex), through the same `model_request` seam.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol
from urllib.parse import quote

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.base import HttpRequest
from lambdarouter.providers.family import ErrorSeam, Family
from lambdarouter.providers.gemini.errors import map_error


class GeminiHost(ErrorSeam, Protocol):
    """Where Gemini-format requests for a model go and how they authenticate: the Gemini API's layout, or
    Vertex AI's."""

    def model_request(self, host: ResolvedHost, upstream_id: str, method: str, body: bytes) -> HttpRequest: ...


def model_path(upstream_id: str) -> str:
    return quote(upstream_id.removeprefix("models/"), safe="-._~")


class GeminiFamily(Family):
    name = "gemini"
    chat_adapter = "lambdarouter.providers.gemini.chat:ADAPTER"
    embeddings_adapter = "lambdarouter.providers.gemini.embeddings:ADAPTER"
    # Imagen has its own method (`predict`); Gemini's image models draw through generateContent.
    image_adapters = (("imagen-", "lambdarouter.providers.gemini.images:IMAGEN"),
                      ("", "lambdarouter.providers.gemini.image_models:IMAGE_MODELS"))

    def model_request(self, host: ResolvedHost, upstream_id: str, method: str, body: bytes) -> HttpRequest:
        headers = {"content-type": "application/json", **host.spec.headers}
        if host.api_key:
            headers["x-goog-api-key"] = host.api_key
        return HttpRequest("POST", f"{host.base_url}/v1beta/models/{model_path(upstream_id)}:{method}", headers, body)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        return map_error(status, headers, body, provider)


FAMILY = GeminiFamily()
