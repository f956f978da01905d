"""Canonical messages → Gemini `contents` and `systemInstruction`.

Reference: https://ai.google.dev/api/generate-content (Content, Part, FunctionCall, FunctionResponse) and
https://ai.google.dev/gemini-api/docs/function-calling. Gemini has two roles, `user` and `model`; system
and developer messages go to the separate `systemInstruction`; tool results are `functionResponse` parts
of a user turn; assistant tool calls are `functionCall` parts of a model turn.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any

from msgspec import Struct, field

from lambdarouter.core.conversation import (
    AudioPart,
    FilePart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    RefusalPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    VideoPart,
)
from lambdarouter.core.errors import GatewayError
from lambdarouter.providers.common import arguments_object, kind_of, parse_data_url, text_of

# OpenRouter's `format` for Gemini entries of `reasoning_details`
# (https://openrouter.ai/docs/use-cases/reasoning-tokens#reasoning-details): only these are restored.
DETAIL_FORMAT = "google-gemini-v1"

# Google's documented stand-in for a missing thought signature, "in cases where it can't be avoided, e.g.
# ... transferring a trace from a different model" (https://ai.google.dev/gemini-api/docs/thought-signatures,
# FAQ). Gemini 3 rejects a function call of the current turn without a signature with a 400.
SKIP_SIGNATURE = "skip_thought_signature_validator"

# The Files API and Cloud Storage URIs are the only URLs `fileData` takes
# (https://ai.google.dev/api/caching#FileData); every other URL reaches this adapter already inlined as a
# `data:` URL by the service, because the adapter declares `needs_image_bytes`.
FILE_URI_PREFIXES = ("gs://", "https://generativelanguage.googleapis.com/")


class Translated(Struct):
    contents: list[dict[str, Any]] = field(default_factory=list)
    system: list[dict[str, Any]] = field(default_factory=list)
    # Function names the history calls, for the declarations a request without `tools` still needs.
    called: list[str] = field(default_factory=list)


def translate_messages(messages: Iterable[Message], signatures_required: bool) -> Translated:
    messages = list(messages)
    names = _call_names(messages)
    out = Translated()
    for message in messages:
        if message.role in ("system", "developer"):
            # Gemini has one system instruction; several system/developer messages become its parts in
            # order (their position between turns cannot be kept).
            if text := text_of(message.parts, message.role):
                out.system.append({"text": text})
        elif message.role == "user":
            _append(out.contents, "user", _user_parts(message))
        elif message.role == "assistant":
            parts = _model_parts(message, signatures_required)
            out.called.extend(p["functionCall"]["name"] for p in parts if "functionCall" in p)
            if parts and out.contents and out.contents[-1]["role"] == "model":
                # Consecutive assistant messages are one model turn split in two; kept apart, a turn of
                # calls would follow a model turn, which Gemini rejects ("function call turn comes
                # immediately after a user turn or after a function response turn").
                out.contents[-1]["parts"].extend(parts)
            else:
                _append(out.contents, "model", parts)
        else:
            for result in (p for p in message.parts if isinstance(p, ToolResultPart)):
                _add_result(out.contents, _result_name(result, names), result.content)
    return out


def _call_names(messages: list[Message]) -> dict[str, str]:
    """tool call id → function name: tool results may carry only the id, functionResponse needs the name."""
    return {part.id: part.name for m in messages if m.role == "assistant" for part in m.parts
            if isinstance(part, ToolCallPart)}


def _result_name(result: ToolResultPart, names: Mapping[str, str]) -> str:
    if result.name is not None:
        return result.name
    if result.call_id not in names:
        raise GatewayError(400, f"The tool message's tool_call_id {result.call_id!r} matches no "
                                "tool call of an earlier assistant message.")
    return names[result.call_id]


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if parts:  # Gemini rejects a turn without parts ("contents.parts must not be empty")
        contents.append({"role": role, "parts": parts})


def _user_parts(message: Message) -> list[dict[str, Any]]:
    parts = _content_parts(message.parts)
    if message.name and parts and "text" in parts[0]:
        # Gemini has no per-message author field: the speaker's name is kept as a prefix of the text.
        parts[0] = {"text": f"{message.name}: {parts[0]['text']}"}
    return parts


def _content_parts(parts: Iterable[Part]) -> list[dict[str, Any]]:
    return [_part(p) for p in parts if not (isinstance(p, TextPart) and p.text == "")]


def _part(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart | RefusalPart):
        return {"text": part.text}
    if isinstance(part, ImagePart):
        return _media(part.url, "image")
    if isinstance(part, VideoPart):  # video: inline bytes or a Files API / Cloud Storage URI, as images
        return _media(part.url, "video")
    if isinstance(part, AudioPart):
        # input_audio.format is "wav" / "mp3"; Gemini takes audio/wav and audio/mp3
        # (https://ai.google.dev/gemini-api/docs/audio#supported-formats).
        data = parse_data_url(f"data:audio/{part.format};base64,{part.data}", "audio")
        return {"inlineData": {"mimeType": data.media_type, "data": data.data}}
    if isinstance(part, FilePart):
        if part.url is None or not part.url.startswith("data:"):
            raise GatewayError(400, "Gemini takes file parts as file.file_data data: URLs only.")
        return _media(part.url, "file")
    raise GatewayError(400, f"Content parts of type {kind_of(part)} are not supported by Gemini.")


def _media(url: str, what: str) -> dict[str, Any]:
    if url.startswith("data:"):
        data = parse_data_url(url, what)
        return {"inlineData": {"mimeType": data.media_type, "data": data.data}}
    if url.startswith(FILE_URI_PREFIXES):
        mime, _ = mimetypes.guess_type(url)
        return {"fileData": {"fileUri": url, **({"mimeType": mime} if mime else {})}}
    # The service inlines http(s) images for adapters with `needs_image_bytes`; reaching here is a bug.
    raise GatewayError(400, f"Gemini cannot fetch the {what} URL itself; send it as a data: URL.")


def _model_parts(message: Message, signatures_required: bool) -> list[dict[str, Any]]:
    calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
    reasoning = [p for p in message.parts if isinstance(p, ReasoningPart)]
    by_call, loose = _signatures(reasoning, {c.id for c in calls})
    parts = _content_parts(p for p in message.parts if isinstance(p, TextPart | RefusalPart | ImagePart
                                                                  | VideoPart | FilePart | AudioPart))
    for signature in loose:
        # Signatures not tied to a call sat on a text part (often an empty last one, see the recording
        # gemini/stream-json-array-no-sse.json): put them back on text parts.
        if parts and "text" in parts[-1] and "thoughtSignature" not in parts[-1]:
            parts[-1] = {**parts[-1], "thoughtSignature": signature}
        else:
            parts.append({"text": "", "thoughtSignature": signature})
    for position, call in enumerate(calls):
        part: dict[str, Any] = {"functionCall": {
            "name": call.name, "args": arguments_object(call.arguments, f"the tool call to {call.name!r}")}}
        restored = by_call.get(call.id)
        if restored is None and position == 0 and signatures_required:
            # Only the first call of a parallel set carries a signature; a client that dropped
            # reasoning_details would otherwise get Gemini 3's 400 "missing a thought_signature".
            restored = SKIP_SIGNATURE
        if restored is not None:
            part["thoughtSignature"] = restored
        parts.append(part)
    return parts


def _signatures(reasoning: list[ReasoningPart], call_ids: set[str]) -> tuple[dict[str, str], list[str]]:
    """Gemini's thought signatures from reasoning parts: by tool call id, and the rest.

    Parts another provider wrote (another `format`) are not Gemini's to read and are left out.
    """
    by_call: dict[str, str] = {}
    loose: list[str] = []
    for part in reasoning:
        if part.encrypted is None or (part.format or DETAIL_FORMAT) != DETAIL_FORMAT:
            continue
        if part.id in call_ids:
            by_call[part.id] = part.encrypted
        else:
            loose.append(part.encrypted)
    return by_call, loose


def _add_result(contents: list[dict[str, Any]], name: str, content: tuple[Part, ...]) -> None:
    """A tool result as a functionResponse part; consecutive results share one user turn.

    Gemini wants one user turn answering a model turn's calls ("the number of function response parts
    is equal to the number of function call parts of the function call turn").
    """
    texts = "".join(p.text for p in content if isinstance(p, TextPart))
    extra = [_part(p) for p in content if not isinstance(p, TextPart)]
    part = {"functionResponse": {"name": name, "response": _response_object(texts)}}
    last = contents[-1] if contents else None
    if last is not None and last["role"] == "user" and any("functionResponse" in p for p in last["parts"]):
        last["parts"].extend([part, *extra])
    else:
        contents.append({"role": "user", "parts": [part, *extra]})


def _response_object(text: str) -> Mapping[str, Any]:
    """FunctionResponse.response must be a JSON object: a JSON-object result is sent as is, anything else
    under "output", the key Google documents for a function's output
    (https://ai.google.dev/api/caching#FunctionResponse)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"output": text}
    return value if isinstance(value, dict) else {"output": text}
