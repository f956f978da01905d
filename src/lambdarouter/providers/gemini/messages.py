"""OpenAI chat messages → Gemini `contents` and `systemInstruction`.

Reference: https://ai.google.dev/api/generate-content (Content, Part, FunctionCall, FunctionResponse) and
https://ai.google.dev/gemini-api/docs/function-calling. Gemini has two roles, `user` and `model`; system
and developer messages go to the separate `systemInstruction`; tool results are `functionResponse` parts
of a user turn; assistant tool calls are `functionCall` parts of a model turn.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.dialects.openrouter.messages import (
    AssistantMessage,
    AudioPart,
    ContentPart,
    DeveloperMessage,
    FilePart,
    FunctionMessage,
    ImagePart,
    Message,
    RefusalPart,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)
from lambdarouter.providers.common import parse_data_url, text_of

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


@dataclass(slots=True)
class Translated:
    contents: list[dict[str, Any]] = field(default_factory=list)
    system: list[dict[str, Any]] = field(default_factory=list)
    # Function names the history calls, for the declarations a request without `tools` still needs.
    called: list[str] = field(default_factory=list)


def translate_messages(messages: Iterable[Message], signatures_required: bool) -> Translated:
    messages = list(messages)
    names = _call_names(messages)
    out = Translated()
    for message in messages:
        if isinstance(message, SystemMessage | DeveloperMessage):
            # Gemini has one system instruction; several system/developer messages become its parts in
            # order (their position between turns cannot be kept).
            if text := text_of(message.content, message.role):
                out.system.append({"text": text})
        elif isinstance(message, UserMessage):
            _append(out.contents, "user", _user_parts(message))
        elif isinstance(message, AssistantMessage):
            parts = _model_parts(message, signatures_required)
            out.called.extend(p["functionCall"]["name"] for p in parts if "functionCall" in p)
            if parts and out.contents and out.contents[-1]["role"] == "model":
                # Consecutive assistant messages are one model turn split in two; kept apart, a turn of
                # calls would follow a model turn, which Gemini rejects ("function call turn comes
                # immediately after a user turn or after a function response turn").
                out.contents[-1]["parts"].extend(parts)
            else:
                _append(out.contents, "model", parts)
        elif isinstance(message, ToolMessage):
            if message.tool_call_id not in names:
                raise GatewayError(400, f"The tool message's tool_call_id {message.tool_call_id!r} matches no "
                                        "tool call of an earlier assistant message.")
            _add_result(out.contents, names[message.tool_call_id], message.content)
        elif isinstance(message, FunctionMessage):
            _add_result(out.contents, message.name, message.content or "")
    return out


def _call_names(messages: list[Message]) -> dict[str, str]:
    """tool_call_id → function name: OpenAI tool messages carry only the id, functionResponse needs the name."""
    return {call.id: call.function.name for m in messages if isinstance(m, AssistantMessage)
            for call in m.tool_calls or ()}


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if parts:  # Gemini rejects a turn without parts ("contents.parts must not be empty")
        contents.append({"role": role, "parts": parts})


def _user_parts(message: UserMessage) -> list[dict[str, Any]]:
    parts = _content_parts(message.content)
    if message.name and parts and "text" in parts[0]:
        # Gemini has no per-message author field: the speaker's name is kept as a prefix of the text.
        parts[0] = {"text": f"{message.name}: {parts[0]['text']}"}
    return parts


def _content_parts(content: str | list[ContentPart] | None) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    return [_part(p) for p in content if not (isinstance(p, TextPart) and p.text == "")]


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, RefusalPart):
        return {"text": part.refusal}
    if isinstance(part, ImagePart):
        return _media(part.image_url.url, "image")
    if isinstance(part, AudioPart):
        # input_audio.format is "wav" / "mp3"; Gemini takes audio/wav and audio/mp3
        # (https://ai.google.dev/gemini-api/docs/audio#supported-formats).
        data = parse_data_url(f"data:audio/{part.input_audio.format};base64,{part.input_audio.data}", "audio")
        return {"inlineData": {"mimeType": data.media_type, "data": data.data}}
    if isinstance(part, FilePart):
        file_data = part.file.get("file_data")
        if not isinstance(file_data, str) or not file_data.startswith("data:"):
            raise GatewayError(400, "Gemini takes file parts as file.file_data data: URLs only.")
        return _media(file_data, "file")
    raise GatewayError(400, f"Content parts of type {part.type!r} are not supported by Gemini.")


def _media(url: str, what: str) -> dict[str, Any]:
    if url.startswith("data:"):
        data = parse_data_url(url, what)
        return {"inlineData": {"mimeType": data.media_type, "data": data.data}}
    if url.startswith(FILE_URI_PREFIXES):
        mime, _ = mimetypes.guess_type(url)
        return {"fileData": {"fileUri": url, **({"mimeType": mime} if mime else {})}}
    # The service inlines http(s) images for adapters with `needs_image_bytes`; reaching here is a bug.
    raise GatewayError(400, f"Gemini cannot fetch the {what} URL itself; send it as a data: URL.")


def _model_parts(message: AssistantMessage, signatures_required: bool) -> list[dict[str, Any]]:
    calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()]
    if message.function_call is not None:  # the deprecated single-call form
        calls.append(("", message.function_call.name, message.function_call.arguments))
    by_call, loose = _signatures(message.reasoning_details, {c[0] for c in calls})
    parts = _content_parts(message.content)
    if message.refusal:
        parts.append({"text": message.refusal})
    for signature in loose:
        # Signatures not tied to a call sat on a text part (often an empty last one, see the recording
        # gemini/stream-json-array-no-sse.json): put them back on text parts.
        if parts and "text" in parts[-1] and "thoughtSignature" not in parts[-1]:
            parts[-1] = {**parts[-1], "thoughtSignature": signature}
        else:
            parts.append({"text": "", "thoughtSignature": signature})
    for position, (call_id, name, arguments) in enumerate(calls):
        part: dict[str, Any] = {"functionCall": {"name": name, "args": _arguments(arguments, name)}}
        restored = by_call.get(call_id)
        if restored is None and position == 0 and signatures_required:
            # Only the first call of a parallel set carries a signature; a client that dropped
            # reasoning_details would otherwise get Gemini 3's 400 "missing a thought_signature".
            restored = SKIP_SIGNATURE
        if restored is not None:
            part["thoughtSignature"] = restored
        parts.append(part)
    return parts


def _signatures(details: list[dict[str, Any]] | None, call_ids: set[str]) -> tuple[dict[str, str], list[str]]:
    """Gemini's thought signatures from OpenRouter-style `reasoning_details`: by tool call id, and the rest.

    Entries another provider wrote (another `format`) are not Gemini's to read and are left out.
    """
    by_call: dict[str, str] = {}
    loose: list[str] = []
    for detail in details or ():
        if (detail.get("type") != "reasoning.encrypted" or detail.get("format", DETAIL_FORMAT) != DETAIL_FORMAT
                or not isinstance(detail.get("data"), str)):
            continue
        if detail.get("id") in call_ids:
            by_call[detail["id"]] = detail["data"]
        else:
            loose.append(detail["data"])
    return by_call, loose


def _arguments(arguments: str, name: str) -> dict[str, Any]:
    """OpenAI's JSON-string arguments → Gemini's `args` object."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        raise GatewayError(400, f"The arguments of the tool call to {name!r} are not valid JSON.") from None
    if not isinstance(value, dict):
        raise GatewayError(400, f"The arguments of the tool call to {name!r} must be a JSON object.")
    return value


def _add_result(contents: list[dict[str, Any]], name: str, content: str | list[ContentPart]) -> None:
    """A tool result as a functionResponse part; consecutive results share one user turn.

    Gemini wants one user turn answering a model turn's calls ("the number of function response parts
    is equal to the number of function call parts of the function call turn").
    """
    texts = content if isinstance(content, str) else "".join(p.text for p in content if isinstance(p, TextPart))
    extra = [] if isinstance(content, str) else [_part(p) for p in content if not isinstance(p, TextPart)]
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
