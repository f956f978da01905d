"""OpenAI chat messages → Anthropic `system` + `messages` (https://platform.claude.com/docs/en/api/messages).

- system and developer messages become the top-level `system` (a string, or text blocks when there are
  several or one carries `cache_control`);
- tool results are `tool_result` blocks in a user turn, and consecutive turns of one role are merged, so
  several tool results (and a user message after them) form ONE user turn as Anthropic requires
  (https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls);
- an assistant message's `reasoning_details` are restored, unchanged, as the thinking / redacted_thinking
  blocks they came from; its tool calls become `tool_use` blocks;
- `cache_control` on a content part (OpenRouter's prompt-caching syntax), on a tool definition, or on a
  whole message (applied to its last block) passes through: Anthropic caches up to the marked block;
- images: base64 `data:` URLs and http(s) URLs are both native image sources; file parts (PDF) become
  `document` blocks. Audio has no Anthropic counterpart (400).
- `name` on a message has no Anthropic field and is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lambdarouter.core.errors import bad_request
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
from lambdarouter.providers.anthropic.response import ANTHROPIC_REASONING_FORMAT
from lambdarouter.providers.common import extra_field, parse_data_url

Block = dict[str, Any]
# reasoning_details formats restored into thinking blocks (None: a client that dropped the field).
OWN_FORMATS = frozenset({None, ANTHROPIC_REASONING_FORMAT})
SIGNATURE_FORMATS = OWN_FORMATS | {"amazon-bedrock"}
Content = str | list[Block]


def translate_messages(messages: Iterable[Message]) -> tuple[Content | None, list[dict[str, Any]]]:
    """(system, turns) for an Anthropic request."""
    system: list[Block] = []
    turns: list[dict[str, Any]] = []
    legacy = _LegacyFunctionIds()
    for message in messages:
        if isinstance(message, SystemMessage | DeveloperMessage):
            system.extend(_with_cache_control(_blocks(message.content, "system"), message))
        elif isinstance(message, UserMessage):
            _append(turns, "user", _user_content(message))
        elif isinstance(message, AssistantMessage):
            content = _assistant_content(message, legacy)
            if content:  # an empty assistant turn (no text, no calls) is a 400 at Anthropic: nothing to send
                _append(turns, "assistant", content)
        elif isinstance(message, ToolMessage):
            _append(turns, "user", [_tool_result(message)])
        elif isinstance(message, FunctionMessage):  # deprecated OpenAI function calling
            _append(turns, "user", [{"type": "tool_result", "tool_use_id": legacy.last(message.name),
                                     "content": message.content or ""}])
    return _system(system), turns


def tool_names_used(turns: list[dict[str, Any]]) -> list[str]:
    """Names of the tools the history called, in order of first use."""
    names = [block["name"] for turn in turns if isinstance(turn["content"], list)
             for block in turn["content"] if block.get("type") == "tool_use"]
    return list(dict.fromkeys(names))


def _system(blocks: list[Block]) -> Content | None:
    if not blocks:
        return None
    if len(blocks) == 1 and set(blocks[0]) == {"type", "text"}:
        return str(blocks[0]["text"])
    return blocks


def _append(turns: list[dict[str, Any]], role: str, content: Content) -> None:
    """Add a turn, merging it into the previous one of the same role (Anthropic alternates roles)."""
    if turns and turns[-1]["role"] == role:
        previous = turns[-1]["content"]
        turns[-1]["content"] = [*_as_blocks(previous), *_as_blocks(content)]
    else:
        turns.append({"role": role, "content": content})


def _as_blocks(content: Content) -> list[Block]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _user_content(message: UserMessage) -> Content:
    if isinstance(message.content, str) and extra_field(message, "cache_control") is None:
        return message.content
    return _with_cache_control(_blocks(message.content, "user"), message)


def _with_cache_control(blocks: list[Block], message: WireModel) -> list[Block]:
    """A message-level `cache_control` marks the message's last block (the cache breakpoint)."""
    cache_control = extra_field(message, "cache_control")
    if cache_control is not None and blocks:
        blocks[-1] = {**blocks[-1], "cache_control": cache_control}
    return blocks


def _blocks(content: str | list[ContentPart] | None, role: str) -> list[Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = [_part(part, role) for part in content]
    return [block for block in blocks if block is not None]


def _part(part: ContentPart, role: str) -> Block | None:
    block: Block
    if isinstance(part, TextPart):
        block = {"type": "text", "text": part.text}
    elif isinstance(part, RefusalPart):
        block = {"type": "text", "text": part.refusal}
    elif role == "system":
        raise bad_request("Anthropic system prompts take text only.")
    elif isinstance(part, ImagePart):
        block = {"type": "image", "source": _source(part.image_url.url, "image")}
    elif isinstance(part, FilePart):
        block = _document(part)
    elif isinstance(part, AudioPart):
        raise bad_request("Anthropic models do not take audio input.")
    else:  # pragma: no cover - the ContentPart union is exhaustive
        return None
    if (cache_control := extra_field(part, "cache_control")) is not None:
        block["cache_control"] = cache_control
    return block


def _source(url: str, kind: str) -> Block:
    """An image or document source: base64 from a `data:` URL, or Anthropic's own URL source."""
    if url.startswith("data:"):
        data_url = parse_data_url(url, kind)
        return {"type": "base64", "media_type": data_url.media_type, "data": data_url.data}
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise bad_request(f"Unsupported {kind} URL scheme: use a data: URL or an http(s) URL.")


def _document(part: FilePart) -> Block:
    # OpenAI file part: {"file": {"file_data": "data:application/pdf;base64,…", "filename": …}} or a
    # file_id of OpenAI's own Files API, which Anthropic cannot read.
    file_data = part.file.get("file_data") or part.file.get("url")
    if not isinstance(file_data, str):
        raise bad_request("Anthropic takes file parts as `file_data` (a data: URL or an http(s) URL).")
    block: Block = {"type": "document", "source": _source(file_data, "file")}
    if isinstance(part.file.get("filename"), str):
        block["title"] = part.file["filename"]
    return block


def _tool_result(message: ToolMessage) -> Block:
    content = message.content
    block: Block = {"type": "tool_result", "tool_use_id": message.tool_call_id,
                    "content": content if isinstance(content, str) else _blocks(content, "user")}
    if (cache_control := extra_field(message, "cache_control")) is not None:
        block["cache_control"] = cache_control
    return block


def _assistant_content(message: AssistantMessage, legacy: _LegacyFunctionIds) -> Content:
    blocks = [b for b in (_thinking_block(d) for d in message.reasoning_details or ()) if b is not None]
    # Anthropic rejects empty text blocks, and OpenAI clients send content "" next to tool calls.
    text = [b for b in _blocks(message.content, "assistant") if b.get("type") != "text" or b["text"]]
    calls: list[Block] = [{"type": "tool_use", "id": call.id, "name": call.function.name,
                           "input": _arguments(call.function.arguments, call.id)}
                          for call in message.tool_calls or ()]
    if message.function_call is not None:
        calls.append({"type": "tool_use", "id": legacy.new(message.function_call.name),
                      "name": message.function_call.name,
                      "input": _arguments(message.function_call.arguments, message.function_call.name)})
    if not blocks and not calls and isinstance(message.content, str) and extra_field(message, "cache_control") is None:
        return message.content  # plain text (a prefill, when it is the last message) stays a string
    return _with_cache_control([*blocks, *text, *calls], message)


def _arguments(arguments: str, call: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        raise bad_request(f"The arguments of tool call {call} are not valid JSON.") from None
    if not isinstance(value, dict):
        raise bad_request(f"The arguments of tool call {call} must be a JSON object.")
    return value


def _thinking_block(detail: dict[str, Any]) -> Block | None:
    """An OpenRouter reasoning_details entry back into the Anthropic block it came from, unchanged.

    Claude's thinking signatures are valid across the Claude API, Bedrock and Vertex AI (extended-thinking
    docs, "Thinking encryption"), so signed text from Claude on Bedrock is restored too; anything else of
    another provider's format is skipped: its signatures and blobs mean nothing to Anthropic.
    """
    kind, fmt, signature = detail.get("type"), detail.get("format"), detail.get("signature")
    if kind == "reasoning.text" and isinstance(signature, str) and fmt in SIGNATURE_FORMATS:
        return {"type": "thinking", "thinking": detail.get("text") or "", "signature": signature}
    if kind == "reasoning.encrypted" and isinstance(detail.get("data"), str) and fmt in OWN_FORMATS:
        return {"type": "redacted_thinking", "data": detail["data"]}
    return None


class _LegacyFunctionIds:
    """Ids for OpenAI's deprecated function calling, which has none: each function message answers the
    latest call of that name."""

    def __init__(self) -> None:
        self._count = 0
        self._latest: dict[str, str] = {}

    def new(self, name: str) -> str:
        self._count += 1
        self._latest[name] = f"toolu_legacy_{self._count}"
        return self._latest[name]

    def last(self, name: str) -> str:
        return self._latest.get(name) or self.new(name)
