"""Canonical messages → Anthropic `system` + `messages` (https://platform.claude.com/docs/en/api/messages).

- system and developer messages become the top-level `system` (a string, or text blocks when there are
  several or one carries a cache breakpoint);
- tool results are `tool_result` blocks in a user turn, and consecutive turns of one role are merged, so
  several tool results (and a user message after them) form ONE user turn as Anthropic requires
  (https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls);
- an assistant message's reasoning parts are restored, unchanged, as the thinking / redacted_thinking
  blocks they came from; its tool calls become `tool_use` blocks;
- a cache breakpoint on a part, a tool definition, or a whole message (applied to its last block) becomes
  `cache_control`: Anthropic caches up to the marked block;
- images: base64 `data:` URLs and http(s) URLs are both native image sources; file parts (PDF) become
  `document` blocks. Audio has no Anthropic counterpart (400).
- `name` on a message has no Anthropic field and is dropped.
"""

from __future__ import annotations

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
    single_text,
)
from lambdarouter.core.errors import bad_request
from lambdarouter.providers.anthropic.response import ANTHROPIC_REASONING_FORMAT
from lambdarouter.providers.common import arguments_object, kind_of, parse_data_url

Block = dict[str, Any]
# reasoning formats restored into thinking blocks (None: a client that dropped the field).
OWN_FORMATS = frozenset({None, ANTHROPIC_REASONING_FORMAT})
SIGNATURE_FORMATS = OWN_FORMATS | {"amazon-bedrock"}
Content = str | list[Block]


def translate_messages(messages: Iterable[Message]) -> tuple[Content | None, list[dict[str, Any]]]:
    """(system, turns) for an Anthropic request."""
    system: list[Block] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            system.extend(_with_cache(_blocks(message.parts, "system"), message.cache))
        elif message.role == "user":
            _append(turns, "user", _user_content(message))
        elif message.role == "assistant":
            content = _assistant_content(message)
            if content:  # an empty assistant turn (no text, no calls) is a 400 at Anthropic: nothing to send
                _append(turns, "assistant", content)
        else:
            _append(turns, "user", [_tool_result(part, message.cache) for part in message.parts
                                    if isinstance(part, ToolResultPart)])
    return _system(system), turns


def tool_names_used(turns: list[dict[str, Any]]) -> list[str]:
    """Names of the tools the history called, in order of first use."""
    names = [block["name"] for turn in turns if isinstance(turn["content"], list)
             for block in turn["content"] if block.get("type") == "tool_use"]
    return list(dict.fromkeys(names))


def cache_control(cache: CacheControl) -> Block:
    """A breakpoint as Anthropic's `cache_control` (https://platform.claude.com/docs/en/build-with-claude/prompt-caching)."""
    return {"type": cache.type, "ttl": cache.ttl} if cache.ttl else {"type": cache.type}


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


def _user_content(message: Message) -> Content:
    text = single_text(message.parts)
    if text is not None and message.cache is None:
        return text
    return _with_cache(_blocks(message.parts, "user"), message.cache)


def _with_cache(blocks: list[Block], cache: CacheControl | None) -> list[Block]:
    """A message-level breakpoint marks the message's last block."""
    if cache is not None and blocks:
        blocks[-1] = {**blocks[-1], "cache_control": cache_control(cache)}
    return blocks


def _blocks(parts: Iterable[Part], role: str) -> list[Block]:
    blocks = [_part(part, role) for part in parts]
    return [block for block in blocks if block is not None]


def _part(part: Part, role: str) -> Block | None:
    block: Block
    if isinstance(part, TextPart | RefusalPart):
        block = {"type": "text", "text": part.text}
    elif role == "system":
        raise bad_request("Anthropic system prompts take text only.")
    elif isinstance(part, ImagePart):
        block = {"type": "image", "source": _source(part.url, "image")}
    elif isinstance(part, FilePart):
        block = _document(part)
    elif isinstance(part, AudioPart):
        raise bad_request("Anthropic models do not take audio input.")
    else:
        raise bad_request(f"A {role} message cannot hold {kind_of(part)} content for Anthropic.")
    if part.cache is not None:
        block["cache_control"] = cache_control(part.cache)
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
    # A file's bytes as a data: URL or a URL; an id of OpenAI's own Files API means nothing to Anthropic.
    if part.url is None:
        raise bad_request("Anthropic takes file parts as `file_data` (a data: URL or an http(s) URL).")
    block: Block = {"type": "document", "source": _source(part.url, "file")}
    if part.filename is not None:
        block["title"] = part.filename
    return block


def _tool_result(part: ToolResultPart, cache: CacheControl | None) -> Block:
    text = single_text(part.content)
    block: Block = {"type": "tool_result", "tool_use_id": part.call_id,
                    "content": text if text is not None else _blocks(part.content, "user")}
    if part.is_error:
        block["is_error"] = True
    if (marked := part.cache or cache) is not None:
        block["cache_control"] = cache_control(marked)
    return block


def _assistant_content(message: Message) -> Content:
    parts = message.parts
    blocks = [b for b in (_thinking_block(p) for p in parts if isinstance(p, ReasoningPart)) if b is not None]
    # Anthropic rejects empty text blocks, and OpenAI clients send content "" next to tool calls.
    said = [p for p in parts if isinstance(p, TextPart | RefusalPart | ImagePart | FilePart | AudioPart)]
    text = [b for b in _blocks(said, "assistant") if b.get("type") != "text" or b["text"]]
    calls: list[Block] = [_tool_use(p) for p in parts if isinstance(p, ToolCallPart)]
    if not blocks and not calls and message.cache is None and (plain := single_text(tuple(said))) is not None:
        return plain  # plain text (a prefill, when it is the last message) stays a string
    return _with_cache([*blocks, *text, *calls], message.cache)


def _tool_use(part: ToolCallPart) -> Block:
    block: Block = {"type": "tool_use", "id": part.id, "name": part.name,
                    "input": arguments_object(part.arguments, f"tool call {part.id}")}
    if part.cache is not None:
        block["cache_control"] = cache_control(part.cache)
    return block


def _thinking_block(part: ReasoningPart) -> Block | None:
    """A reasoning part back into the Anthropic block it came from, unchanged.

    Claude's thinking signatures are valid across the Claude API, Bedrock and Vertex AI (extended-thinking
    docs, "Thinking encryption"), so signed text from Claude on Bedrock is restored too; anything else of
    another provider's format is skipped: its signatures and blobs mean nothing to Anthropic.
    """
    signed_text = part.signature is not None and part.encrypted is None and part.summary is None
    if signed_text and part.format in SIGNATURE_FORMATS:
        return {"type": "thinking", "thinking": part.text or "", "signature": part.signature}
    if part.encrypted is not None and part.format in OWN_FORMATS:
        return {"type": "redacted_thinking", "data": part.encrypted}
    return None
