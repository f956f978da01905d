"""OpenAI chat messages → Bedrock Converse `system` blocks and alternating `messages`.

Reference: the Converse API (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html),
its Message / ContentBlock / SystemContentBlock types, and the botocore `bedrock-runtime` service model the
tests validate every built request against. In the JSON wire format a blob (image or document bytes,
redacted reasoning) is a base64 string, so `data:` URL payloads pass through without decoding.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lambdarouter.core.errors import bad_request
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
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
    WireModel,
)
from lambdarouter.providers.common import parse_data_url

# The `format` this adapter writes into OpenRouter `reasoning_details` entries.
REASONING_FORMAT = "amazon-bedrock"

# ImageBlock.format (png | jpeg | gif | webp) by media type.
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                 "image/webp": "webp"}
# DocumentBlock.format by media type, then by file extension (the DocumentFormat enum).
DOCUMENT_FORMATS = {
    "application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html", "text/plain": "txt", "text/markdown": "md",
}
DOCUMENT_EXTENSIONS = frozenset(DOCUMENT_FORMATS.values())
# ToolUseBlock.toolUseId: 1-64 characters of [a-zA-Z0-9_.:-] (service model pattern).
_TOOL_ID_INVALID = re.compile(r"[^a-zA-Z0-9_.:-]")
# DocumentBlock.name: "alphanumeric characters, whitespace characters (no more than one in a row),
# hyphens, parentheses, and square brackets" (DocumentBlock API reference), at most 200 characters.
_DOCUMENT_NAME_INVALID = re.compile(r"[^A-Za-z0-9\s()\[\]-]")


def tool_use_id(call_id: str) -> str:
    """A client's tool-call id in the only alphabet Bedrock takes; the same mapping on both sides of a
    call (toolUse and toolResult), so ids from other providers still pair up."""
    return _TOOL_ID_INVALID.sub("_", call_id)[:64] or "call"


def cache_point(obj: WireModel) -> dict[str, Any] | None:
    """OpenRouter/Anthropic-style `cache_control` on a part, message or tool → a Converse cachePoint
    placed after it (https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html)."""
    control = (obj.model_extra or {}).get("cache_control")
    if not isinstance(control, dict):
        return None
    point: dict[str, Any] = {"type": "default"}
    if control.get("ttl") in ("5m", "1h"):
        point["ttl"] = control["ttl"]
    return {"cachePoint": point}


def _with_cache_point(blocks: list[dict[str, Any]], obj: WireModel) -> list[dict[str, Any]]:
    point = cache_point(obj)
    return [*blocks, point] if point is not None and blocks else blocks


def system_blocks(messages: list[Message]) -> list[dict[str, Any]]:
    """Every system and developer message, in order, as Converse `system` blocks.

    Converse has one top-level system field (no system role inside `messages`), so system messages
    anywhere in the conversation are hoisted there, keeping their order.
    """
    blocks: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, SystemMessage | DeveloperMessage):
            continue
        parts: list[dict[str, Any]] = []
        if isinstance(message.content, str):
            parts = [{"text": message.content}] if message.content else []
        else:
            for part in message.content:
                if not isinstance(part, TextPart):
                    raise bad_request(f"A {message.role} message may only hold text parts, not {part.type!r}.")
                if part.text:  # SystemContentBlock.text is a NonEmptyString
                    parts.extend(_with_cache_point([{"text": part.text}], part))
        blocks.extend(_with_cache_point(parts, message))
    return blocks


class MessageTranslator:
    """One request's conversation; counters keep generated names and ids unique across messages."""

    def __init__(self, anthropic: bool) -> None:
        self.anthropic = anthropic
        self._documents = 0
        self._function_calls = 0
        self._function_results = 0

    def conversation(self, request: ChatCompletionRequest) -> list[dict[str, Any]]:
        """Alternating user/assistant turns: Converse rejects two turns of one role in a row, so
        consecutive messages of a role merge into one turn (several tool results → ONE user turn)."""
        turns: list[dict[str, Any]] = []
        for message in request.messages:
            role, blocks = self._turn(message)
            if not blocks:
                continue  # system messages (hoisted) and empty messages: Converse rejects empty content
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"].extend(blocks)
            else:
                turns.append({"role": role, "content": blocks})
        return turns

    def _turn(self, message: Message) -> tuple[str, list[dict[str, Any]]]:
        match message:
            case UserMessage():
                # Converse has no per-message `name`: it is dropped (OpenAI uses it only to tell
                # participants apart, and Converse has no field for that).
                return "user", _with_cache_point(self._content(message.content, "user"), message)
            case AssistantMessage():
                return "assistant", self._assistant(message)
            case ToolMessage():
                result = self._tool_result(tool_use_id(message.tool_call_id), message.content)
                # A cachePoint cannot sit inside a toolResult: one on the message or a part goes after it.
                marked = [message, *(message.content if isinstance(message.content, list) else ())]
                point = next((p for p in map(cache_point, marked) if p is not None), None)
                return "user", [result, point] if point is not None else [result]
            case FunctionMessage():
                # Deprecated `function` role: paired in order with the assistant's `function_call`s.
                self._function_results += 1
                return "user", [self._tool_result(f"function_call_{self._function_results}", message.content)]
        return "system", []

    def _content(self, content: str | list[ContentPart] | None, role: str) -> list[dict[str, Any]]:
        if content is None:
            return []
        if isinstance(content, str):
            return [{"text": content}] if content else []
        blocks: list[dict[str, Any]] = []
        for part in content:
            translated = self._part(part, role)
            blocks.extend(translated if role == "tool" else _with_cache_point(translated, part))
        return blocks

    def _part(self, part: ContentPart, role: str) -> list[dict[str, Any]]:
        match part:
            case TextPart():
                return [{"text": part.text}] if part.text else []
            case RefusalPart():
                return [{"text": part.refusal}] if part.refusal else []
            case ImagePart() if role != "assistant":
                return [image_block(part.image_url.url)]
            case FilePart() if role != "assistant":
                return [self._document(part.file)]
            case AudioPart():
                raise bad_request("amazon-bedrock's Converse API does not take input_audio parts.")
        raise bad_request(f"An {role} message cannot hold {part.type!r} parts on amazon-bedrock.")

    def _document(self, file: dict[str, Any]) -> dict[str, Any]:
        """An OpenAI `file` part with `file_data` (a data: URL) → a DocumentBlock."""
        data = file.get("file_data")
        if not isinstance(data, str) or not data.startswith("data:"):
            raise bad_request("amazon-bedrock takes file parts only as `file_data` data: URLs (no file_id).")
        parsed = parse_data_url(data, "file")
        filename = str(file.get("filename") or "")
        stem, dot, extension = filename.rpartition(".")
        fmt = DOCUMENT_FORMATS.get(parsed.media_type) or (extension.lower() if dot else None)
        if fmt not in DOCUMENT_EXTENSIONS:
            raise bad_request(f"amazon-bedrock cannot read {parsed.media_type} files; it takes "
                              f"{', '.join(sorted(DOCUMENT_EXTENSIONS))}.")
        self._documents += 1
        name = " ".join(_DOCUMENT_NAME_INVALID.sub("-", stem if dot else filename).split())[:200]
        return {"document": {"format": fmt, "name": name or f"Document {self._documents}",
                             "source": {"bytes": parsed.data}}}

    def _assistant(self, message: AssistantMessage) -> list[dict[str, Any]]:
        # Thinking blocks first: Claude requires them before the text and tool calls they preceded.
        blocks = self._reasoning(message.reasoning_details)
        blocks.extend(self._content(message.content, "assistant"))
        for position, call in enumerate(message.tool_calls or ()):
            blocks.append({"toolUse": {"toolUseId": tool_use_id(call.id), "name": call.function.name,
                                       "input": _arguments(call.function.arguments, f"tool_calls[{position}]")}})
        if message.function_call is not None:
            self._function_calls += 1
            blocks.append({"toolUse": {"toolUseId": f"function_call_{self._function_calls}",
                                       "name": message.function_call.name,
                                       "input": _arguments(message.function_call.arguments, "function_call")}})
        return _with_cache_point(blocks, message)

    def _reasoning(self, details: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        """OpenRouter `reasoning_details` sent back → native reasoningContent blocks, unchanged.

        Only details this adapter (or, for Claude, an Anthropic host: Claude signatures are valid across
        Anthropic's API and Bedrock) produced are restored; another provider's signature would be refused.
        """
        blocks: list[dict[str, Any]] = []
        for detail in details or ():
            fmt = detail.get("format")
            if not (fmt in (None, REASONING_FORMAT) or (self.anthropic and str(fmt).startswith("anthropic"))):
                continue
            if detail.get("type") == "reasoning.text" and isinstance(detail.get("text"), str):
                text: dict[str, Any] = {"text": detail["text"]}
                if detail.get("signature"):
                    text["signature"] = detail["signature"]
                elif self.anthropic:
                    continue  # Claude refuses a thinking block without its signature
                blocks.append({"reasoningContent": {"reasoningText": text}})
            elif detail.get("type") == "reasoning.encrypted" and detail.get("data"):
                blocks.append({"reasoningContent": {"redactedContent": detail["data"]}})
        return blocks

    def _tool_result(self, tool_id: str, content: str | list[ContentPart] | None) -> dict[str, Any]:
        # Converse rejects empty text blocks, so an empty result is an empty content list.
        blocks = self._content(content, "tool")
        return {"toolResult": {"toolUseId": tool_id, "content": blocks}}


def image_block(url: str) -> dict[str, Any]:
    """A data: URL → inline bytes; an s3:// URI → Converse's native S3 source.

    http(s) URLs never get here: the adapter declares `needs_image_bytes`, so the service fetches them
    (SSRF-safe) and hands over data: URLs.
    """
    if url.startswith("data:"):
        data = parse_data_url(url, "image")
        fmt = IMAGE_FORMATS.get(data.media_type)
        if fmt is None:
            raise bad_request(f"amazon-bedrock takes png, jpeg, gif or webp images, not {data.media_type}.")
        return {"image": {"format": fmt, "source": {"bytes": data.data}}}
    if url.startswith("s3://"):
        extension = url.rsplit(".", 1)[-1].lower()
        fmt = IMAGE_FORMATS.get(f"image/{extension}")
        if fmt is None:
            raise bad_request("An s3:// image URI must end in .png, .jpeg, .jpg, .gif or .webp.")
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    raise bad_request("amazon-bedrock takes images as data: URLs (or s3:// URIs).")


def _arguments(raw: str, where: str) -> Any:
    """OpenAI's arguments JSON string → Converse's toolUse.input document."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request(f"{where}.function.arguments is not valid JSON.") from None


def history_tool_names(messages: list[dict[str, Any]]) -> list[str]:
    """Names of the tools the conversation already called, in first-use order."""
    names: dict[str, None] = {}
    for message in messages:
        for block in message["content"]:
            if "toolUse" in block:
                names.setdefault(block["toolUse"]["name"], None)
    return list(names)


def has_tool_blocks(messages: list[dict[str, Any]]) -> bool:
    return any("toolUse" in block or "toolResult" in block for m in messages for block in m["content"])
