"""Canonical messages → Bedrock Converse `system` blocks and alternating `messages`.

Reference: the Converse API (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html),
its Message / ContentBlock / SystemContentBlock types, and the botocore `bedrock-runtime` service model the
tests validate every built request against. In the JSON wire format a blob (image or document bytes,
redacted reasoning) is a base64 string, so `data:` URL payloads pass through without decoding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lambdarouter.core.conversation import (
    AudioPart,
    CacheControl,
    FilePart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    RefusalPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from lambdarouter.core.errors import bad_request
from lambdarouter.providers.common import arguments_object, kind_of, parse_data_url

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


def cache_point(cache: CacheControl | None) -> dict[str, Any] | None:
    """A cache breakpoint on a part, message or tool → a Converse cachePoint placed after it
    (https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html)."""
    if cache is None:
        return None
    point: dict[str, Any] = {"type": "default"}
    if cache.ttl in ("5m", "1h"):
        point["ttl"] = cache.ttl
    return {"cachePoint": point}


def _with_cache_point(blocks: list[dict[str, Any]], cache: CacheControl | None) -> list[dict[str, Any]]:
    point = cache_point(cache)
    return [*blocks, point] if point is not None and blocks else blocks


def system_blocks(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Every system and developer message, in order, as Converse `system` blocks.

    Converse has one top-level system field (no system role inside `messages`), so system messages
    anywhere in the conversation are hoisted there, keeping their order.
    """
    blocks: list[dict[str, Any]] = []
    for message in messages:
        if message.role not in ("system", "developer"):
            continue
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if not isinstance(part, TextPart):
                raise bad_request(f"A {message.role} message may only hold text parts, not {kind_of(part)}.")
            if part.text:  # SystemContentBlock.text is a NonEmptyString
                parts.extend(_with_cache_point([{"text": part.text}], part.cache))
        blocks.extend(_with_cache_point(parts, message.cache))
    return blocks


class MessageTranslator:
    """One request's conversation; a counter keeps generated document names unique across messages."""

    def __init__(self, anthropic: bool) -> None:
        self.anthropic = anthropic
        self._documents = 0

    def conversation(self, messages: Iterable[Message]) -> list[dict[str, Any]]:
        """Alternating user/assistant turns: Converse rejects two turns of one role in a row, so
        consecutive messages of a role merge into one turn (several tool results → ONE user turn)."""
        turns: list[dict[str, Any]] = []
        for message in messages:
            role, blocks = self._turn(message)
            if not blocks:
                continue  # system messages (hoisted) and empty messages: Converse rejects empty content
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"].extend(blocks)
            else:
                turns.append({"role": role, "content": blocks})
        return turns

    def _turn(self, message: Message) -> tuple[str, list[dict[str, Any]]]:
        if message.role == "user":
            # Converse has no per-message `name`: it is dropped (OpenAI uses it only to tell participants
            # apart, and Converse has no field for that).
            return "user", _with_cache_point(self._content(message.parts, "user"), message.cache)
        if message.role == "assistant":
            return "assistant", self._assistant(message)
        if message.role == "tool":
            blocks: list[dict[str, Any]] = []
            for result in (p for p in message.parts if isinstance(p, ToolResultPart)):
                blocks.append(self._tool_result(result))
                # A cachePoint cannot sit inside a toolResult: one on the message or a part goes after it.
                marked = [message.cache, result.cache, *(p.cache for p in result.content)]
                point = next((p for p in map(cache_point, marked) if p is not None), None)
                if point is not None:
                    blocks.append(point)
            return "user", blocks
        return "system", []

    def _content(self, parts: Iterable[Part], role: str) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for part in parts:
            translated = self._part(part, role)
            blocks.extend(translated if role == "tool" else _with_cache_point(translated, part.cache))
        return blocks

    def _part(self, part: Part, role: str) -> list[dict[str, Any]]:
        match part:
            case TextPart() | RefusalPart():
                return [{"text": part.text}] if part.text else []
            case ImagePart() if role != "assistant":
                return [image_block(part.url)]
            case FilePart() if role != "assistant":
                return [self._document(part)]
            case AudioPart():
                raise bad_request("amazon-bedrock's Converse API does not take input_audio parts.")
        raise bad_request(f"An {role} message cannot hold {kind_of(part)} parts on amazon-bedrock.")

    def _document(self, part: FilePart) -> dict[str, Any]:
        """A file part with its bytes as a data: URL → a DocumentBlock."""
        if part.url is None or not part.url.startswith("data:"):
            raise bad_request("amazon-bedrock takes file parts only as `file_data` data: URLs (no file_id).")
        parsed = parse_data_url(part.url, "file")
        filename = part.filename or ""
        stem, dot, extension = filename.rpartition(".")
        fmt = DOCUMENT_FORMATS.get(parsed.media_type) or (extension.lower() if dot else None)
        if fmt not in DOCUMENT_EXTENSIONS:
            raise bad_request(f"amazon-bedrock cannot read {parsed.media_type} files; it takes "
                              f"{', '.join(sorted(DOCUMENT_EXTENSIONS))}.")
        self._documents += 1
        name = " ".join(_DOCUMENT_NAME_INVALID.sub("-", stem if dot else filename).split())[:200]
        return {"document": {"format": fmt, "name": name or f"Document {self._documents}",
                             "source": {"bytes": parsed.data}}}

    def _assistant(self, message: Message) -> list[dict[str, Any]]:
        # Thinking blocks first: Claude requires them before the text and tool calls they preceded.
        blocks = self._reasoning(p for p in message.parts if isinstance(p, ReasoningPart))
        said = [p for p in message.parts if not isinstance(p, ReasoningPart | ToolCallPart)]
        blocks.extend(self._content(said, "assistant"))
        for position, call in enumerate(p for p in message.parts if isinstance(p, ToolCallPart)):
            blocks.append({"toolUse": {"toolUseId": tool_use_id(call.id), "name": call.name,
                                       "input": arguments_object(call.arguments, f"tool_calls[{position}]")}})
        return _with_cache_point(blocks, message.cache)

    def _reasoning(self, parts: Iterable[ReasoningPart]) -> list[dict[str, Any]]:
        """Reasoning parts sent back → native reasoningContent blocks, unchanged.

        Only parts this adapter (or, for Claude, an Anthropic host: Claude signatures are valid across
        Anthropic's API and Bedrock) produced are restored; another provider's signature would be refused.
        """
        blocks: list[dict[str, Any]] = []
        for part in parts:
            fmt = part.format
            if not (fmt in (None, REASONING_FORMAT) or (self.anthropic and str(fmt).startswith("anthropic"))):
                continue
            if part.encrypted:
                blocks.append({"reasoningContent": {"redactedContent": part.encrypted}})
            elif part.text is not None:
                text: dict[str, Any] = {"text": part.text}
                if part.signature:
                    text["signature"] = part.signature
                elif self.anthropic:
                    continue  # Claude refuses a thinking block without its signature
                blocks.append({"reasoningContent": {"reasoningText": text}})
        return blocks

    def _tool_result(self, result: ToolResultPart) -> dict[str, Any]:
        # Converse rejects empty text blocks, so an empty result is an empty content list.
        block: dict[str, Any] = {"toolUseId": tool_use_id(result.call_id), "content": self._content(result.content,
                                                                                                   "tool")}
        if result.is_error:
            block["status"] = "error"
        return {"toolResult": block}


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
