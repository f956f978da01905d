"""Translation helpers every native adapter shares.

Parsing a `data:` URL into its media type and base64 payload, pulling the text out of canonical parts, the
JSON-schema cleanup Gemini's JSON Schema fields require, parsing tool-call arguments, and the error for an
upstream answer an adapter cannot read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote_to_bytes

from msgspec import Struct

from lambdarouter.core.conversation import Part, TextPart
from lambdarouter.core.errors import GatewayError

if TYPE_CHECKING:
    from lambdarouter.core.events import StreamEvent

T = TypeVar("T")


class DataURL(Struct, frozen=True):
    media_type: str
    data: str  # standard base64, as every provider's inline-bytes field takes it


def parse_data_url(url: str, what: str = "image") -> DataURL:
    """`data:<mime>[;base64],<payload>` (RFC 2397) → media type and base64 payload, or a 400 saying why not."""
    header, comma, payload = url.partition(",")
    if not header.startswith("data:") or not comma:
        raise GatewayError(400, f"The {what} URL is not a valid data: URL (expected data:<type>;base64,<data>).")
    params = header[len("data:"):].split(";")
    mime = params[0].strip().lower() or "text/plain"  # RFC 2397's default media type
    if "base64" in (p.strip().lower() for p in params[1:]):
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise GatewayError(400, f"The {what} data: URL does not hold valid base64.") from None
        return DataURL(mime, payload)
    # A percent-encoded data: URL is legal too; providers only take base64.
    return DataURL(mime, base64.b64encode(unquote_to_bytes(payload)).decode("ascii"))


def text_of(parts: tuple[Part, ...], role: str) -> str:
    """The text of a message whose provider field takes text only (system prompts, tool results)."""
    texts: list[str] = []
    for part in parts:
        if not isinstance(part, TextPart):
            raise GatewayError(400, f"A {role} message may only hold text parts here, not {kind_of(part)}.")
        texts.append(part.text)
    return "".join(texts)


# Canonical part type → the name clients know it by (OpenAI's content part types), for error messages.
PART_KINDS = {"TextPart": "text", "ImagePart": "image_url", "AudioPart": "input_audio", "VideoPart": "video_url",
              "FilePart": "file",
              "RefusalPart": "refusal", "ToolCallPart": "tool call", "ReasoningPart": "reasoning",
              "ToolResultPart": "tool result"}


def kind_of(part: Part) -> str:
    return repr(PART_KINDS[type(part).__name__])


def arguments_object(arguments: str, what: str) -> dict[str, Any]:
    """A tool call's JSON-text arguments as the object the provider takes, or a 400 saying why not."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        raise GatewayError(400, f"The arguments of {what} are not valid JSON.") from None
    if not isinstance(value, dict):
        raise GatewayError(400, f"The arguments of {what} must be a JSON object.")
    return value


def clean_json_schema(schema: Any) -> Any:
    """A JSON schema with the one shape Gemini's JSON Schema fields reject removed.

    Gemini's `responseJsonSchema` / `parametersJsonSchema` take full JSON Schema and ignore keywords they
    do not support, except that "if $ref is set on a sub-schema, no other properties, except for those
    starting as a $, may be set" (GenerationConfig.responseJsonSchema,
    https://ai.google.dev/api/generate-content#generationconfig). pydantic emits `{"$ref", "description"}`
    siblings, so those siblings are dropped. `properties` maps user names to schemas: their keys are data,
    never keywords.
    """
    if isinstance(schema, list):
        return [clean_json_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    ref_only = "$ref" in schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if ref_only and not key.startswith("$"):
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, Mapping):
            cleaned[key] = {name: clean_json_schema(sub) for name, sub in value.items()}
        elif key in ("enum", "const", "default", "examples", "required", "propertyOrdering"):
            cleaned[key] = value  # values, not schemas
        else:
            cleaned[key] = clean_json_schema(value)
    return cleaned


def malformed(what: str, provider: str | None = None) -> GatewayError:
    """The provider answered with something the adapter cannot read: an upstream fault, worth a fallback."""
    metadata = {"provider_name": provider} if provider else None
    return GatewayError(502, f"{provider or 'The provider'} sent {what}.", metadata=metadata, retryable=True,
                        origin="upstream")


class ErrorAfterEvents:
    """A stream decoder's errors, raised only once the events before them reached the client.

    One piece of a stream may hold several events, the last an error (Anthropic's `event: error`, an
    `error` object from OpenAI or Gemini): how the body is cut into pieces depends on TCP and on the HTTP
    client (aiohttp hands over what arrived, httpx what one read returned), so the text before the error
    must not depend on it. `decode` returns the events decoded before the error, and the next call of
    the decoder (`feed` or `close`) raises it.
    """

    def __init__(self) -> None:
        self._held: Exception | None = None

    def decode(self, items: Iterable[T], handle: Callable[[T], list[StreamEvent]],
               final: bool = False) -> list[StreamEvent]:
        """`handle` over `items`; with `final` (the decoder's `close`) an error is raised at once."""
        if self._held is not None:
            raise self._held
        events: list[StreamEvent] = []
        try:
            for item in items:
                events.extend(handle(item))
        except Exception as exc:  # an error event, or a malformed one (providers/events.py `MalformedEvent`)
            if final or not events:
                raise
            self._held = exc
        return events
