"""The Google Vertex AI family (host `google-vertex`): Gemini and Claude through Vertex AI's REST API.

URL layout (https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest): `{base}/projects/{project}/
locations/{location}/publishers/{publisher}/models/{model}:{method}`, where the base is
`https://{location}-aiplatform.googleapis.com/v1` (`https://aiplatform.googleapis.com/v1` for the global
location, `https://aiplatform.{us,eu}.rep.googleapis.com/v1` for the multi-regions), or the host's base URL.
- Gemini (publisher `google`): the Gemini API's body and answers, methods `generateContent` and
  `streamGenerateContent?alt=sse`: the Gemini adapters serve it through the `GeminiHost` seam.
- Claude (publisher `anthropic`): Anthropic's Messages body without `model` (it is in the URL) and with
  `anthropic_version: vertex-2023-10-16`, methods `rawPredict` and `streamRawPredict`
  (https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude); Anthropic's answers
  and stream: the Anthropic adapter serves it through the `AnthropicHost` seam.
Credentials: a service account key exchanged for OAuth access tokens (`auth`). The project is the host's
`project` option, else the key's own; the location its `location` option, else global.

Errors: Vertex answers a google.rpc.Status body (as the Gemini API does) for everything the platform refuses
(credentials, quota, unknown model); Claude's own failures keep Anthropic's error body. Each is read by its
own family's table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.anthropic.response import map_error as anthropic_error
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.family import Family
from lambdarouter.providers.gemini.errors import map_error as google_error
from lambdarouter.providers.vertex.auth import authorizer, service_account

DEFAULT_LOCATION = "global"
MULTI_REGIONS = frozenset({"us", "eu"})
ANTHROPIC_VERSION = "vertex-2023-10-16"


def endpoint_base(location: str) -> str:
    if location == "global":
        return "https://aiplatform.googleapis.com/v1"
    if location in MULTI_REGIONS:
        return f"https://aiplatform.{location}.rep.googleapis.com/v1"
    return f"https://{location}-aiplatform.googleapis.com/v1"


class VertexFamily(Family):
    name = "vertex"
    chat_adapter = "lambdarouter.providers.vertex.chat:ADAPTER"

    def model_request(self, host: ResolvedHost, upstream_id: str, method: str, body: bytes) -> HttpRequest:
        """A Gemini-format call (the Gemini adapters' `GeminiHost` seam)."""
        return self._call(host, "google", upstream_id.removeprefix("models/"), method, body)

    def messages_request(self, host: ResolvedHost, body: Mapping[str, Any], stream: bool) -> HttpRequest:
        """An Anthropic Messages call (the Anthropic adapter's `AnthropicHost` seam)."""
        fields = {k: v for k, v in body.items() if k != "model"}
        fields["anthropic_version"] = ANTHROPIC_VERSION
        payload = json.dumps(fields, separators=(",", ":")).encode()
        method = "streamRawPredict" if stream else "rawPredict"
        return self._call(host, "anthropic", str(body["model"]), method, payload, stream)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        raw = parse_json_body(body)
        if isinstance(raw, dict) and raw.get("type") == "error":  # Claude's own (Anthropic's error body)
            return anthropic_error(status, headers, body, provider)
        return google_error(status, headers, body, provider)

    def _call(self, host: ResolvedHost, publisher: str, model: str, method: str, body: bytes,
              stream: bool = False) -> HttpRequest:
        provider = host.spec.name
        account = service_account(host.api_key or "", provider)
        project = host.options.get("project") or account.project_id
        if not project:
            raise GatewayError(503, f"Provider {provider} is not configured: set its project (VERTEX_PROJECT, or "
                                    "project_id in the service account key).",
                               metadata={"provider_name": provider}, retryable=True)
        location = host.options.get("location") or DEFAULT_LOCATION
        base = host.base_url or endpoint_base(location)
        url = (f"{base}/projects/{quote(project, safe='')}/locations/{quote(location, safe='')}/publishers/"
               f"{publisher}/models/{quote(model, safe='@-._~')}:{method}")
        headers = {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json",
                   **host.spec.headers}
        return HttpRequest("POST", url, headers, body, authorizer(account, provider))


FAMILY = VertexFamily()
