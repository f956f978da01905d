"""Chat through Vertex AI: Claude models in Anthropic's wire format, every other model in Gemini's, each by
its own family's adapter with Vertex's URL layout and credentials (`family.FAMILY`); the same model profiles
as on the direct hosts, since the adapters apply them by model."""

from __future__ import annotations

from lambdarouter.core.events import StreamEvent
from lambdarouter.profiles.claude import is_claude
from lambdarouter.providers.anthropic.chat import AnthropicAdapter
from lambdarouter.providers.base import HttpRequest, StreamDecoder, UpstreamCall, WireAdapter
from lambdarouter.providers.family import Member
from lambdarouter.providers.gemini.chat import GeminiAdapter
from lambdarouter.providers.vertex.family import FAMILY


class VertexChat(Member):
    family = FAMILY
    # Gemini's fileData takes only gs:// and Files API URIs: images arrive inlined (Claude takes them too).
    needs_image_bytes = True

    def __init__(self) -> None:
        self._claude = AnthropicAdapter(FAMILY)
        self._gemini = GeminiAdapter(FAMILY)

    def _adapter(self, call: UpstreamCall | None) -> WireAdapter:
        return self._claude if call is not None and is_claude(call.endpoint.upstream_id) else self._gemini

    def build_request(self, call: UpstreamCall) -> HttpRequest:
        return self._adapter(call).build_request(call)

    def parse_response(self, body: bytes, call: UpstreamCall | None = None) -> list[StreamEvent]:
        return self._adapter(call).parse_response(body, call)

    def stream_decoder(self, call: UpstreamCall | None = None) -> StreamDecoder:
        return self._adapter(call).stream_decoder(call)


ADAPTER = VertexChat()
