"""A Messages request → the canonical conversation, for the models that do not speak Messages themselves.

Pure translation of an already validated `MessagesRequest` (https://platform.claude.com/docs/en/api/messages):

- `system` (a string or text blocks) and Claude Code's `system` turns inside `messages` are system messages;
- a user turn's `tool_result` blocks become `tool` messages (one per result, in order), its other blocks a
  user message; images (base64 or URL) are image parts, documents file parts (a PDF's bytes as a data: URL, a
  plain-text document as text), `cache_control` a breakpoint;
- an assistant turn's `thinking` / `redacted_thinking` blocks become reasoning parts: Claude's own with its
  signature or blob, another provider's restored from what the gateway wrapped in them (reasoning.py);
  `tool_use` blocks become tool calls with their input as JSON text;
- client tools become tools (their `input_schema` the parameters); Anthropic's server tools (web search, code
  execution…) run only at Anthropic's and are left out; `tool_choice` any / tool / none / auto and
  `disable_parallel_tool_use` as the canonical choice and parallel flag;
- `thinking` (enabled with a budget, adaptive, disabled; `display: "omitted"` hides it) and
  `output_config.effort` as reasoning options; `output_config.format` (or the older `output_format`) as a JSON
  schema output; `stop_sequences`, sampling, `max_tokens`, `metadata.user_id` as the end-user id.
Blocks only Anthropic's API can read (server tool results, container uploads, search results, `file` sources)
are a 400 that names them. Unknown top-level fields travel as an `anthropic-messages` extension.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from lambdarouter.core.conversation import (
    ANTHROPIC_MESSAGES,
    NO_EXTENSIONS,
    CacheControl,
    ChatRequest,
    Effort,
    Extensions,
    FilePart,
    ImagePart,
    JsonSchemaFormat,
    Message,
    NamedTool,
    Origin,
    Part,
    Reasoning,
    ReasoningPart,
    Sampling,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from lambdarouter.core.errors import bad_request
from lambdarouter.dialects.anthropic.reasoning import CLAUDE_FORMAT, unwrap
from lambdarouter.dialects.anthropic.request import (
    Block,
    DocumentBlock,
    ImageBlock,
    InputMessage,
    MessagesRequest,
    OutputConfig,
    RedactedThinkingBlock,
    Source,
    TextBlock,
    ThinkingBlock,
    ToolDefinition,
    ToolResultBlock,
    ToolUseBlock,
    Wire,
)

# Anthropic's effort levels → the canonical ones (xhigh and max ask for the most there is).
EFFORTS: dict[str, Effort] = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
# Request fields the canonical model carries; any other top-level field is an extension.
CARRIED = frozenset({"model", "messages", "system", "max_tokens", "stream", "stop_sequences", "temperature", "top_p",
                     "top_k", "tools", "tool_choice", "thinking", "metadata", "output_config", "output_format"})


def to_canonical(request: MessagesRequest, body: bytes) -> ChatRequest:
    tools = [t for t in request.tools or () if t.input_schema is not None or t.type in (None, "custom")]
    choice = request.tool_choice
    return ChatRequest(
        messages=(*_system(request.system), *(m for turn in request.messages for m in _turn(turn))),
        tools=tuple(_tool(t) for t in tools),
        tool_choice=_tool_choice(choice.type, choice.name) if choice else None,
        parallel_tool_calls=None if choice is None or choice.disable_parallel_tool_use is None
        else not choice.disable_parallel_tool_use,
        output=_output(request.output_config, (request.model_extra or {}).get("output_format")),
        sampling=Sampling(temperature=request.temperature, top_p=request.top_p, top_k=request.top_k),
        max_output_tokens=request.max_tokens,
        stop=tuple(request.stop_sequences or ()),
        reasoning=_reasoning_options(request),
        user=request.metadata.user_id if request.metadata else None,
        extensions=_tagged({k: v for k, v in (request.model_extra or {}).items() if k not in CARRIED}),
        origin=Origin(ANTHROPIC_MESSAGES, body),
    )


def _tagged(fields: dict[str, Any]) -> Extensions:
    return {ANTHROPIC_MESSAGES: fields} if fields else NO_EXTENSIONS


def _cache(block: Wire) -> CacheControl | None:
    control = (block.model_extra or {}).get("cache_control")
    if not isinstance(control, dict):
        return None
    ttl = control.get("ttl")
    return CacheControl(str(control.get("type") or "ephemeral"), ttl if isinstance(ttl, str) else None)


def _system(system: str | list[TextBlock] | None) -> tuple[Message, ...]:
    if not system:
        return ()
    parts = (TextPart(system),) if isinstance(system, str) else tuple(_text(b) for b in system)
    return (Message("system", parts),)


def _text(block: TextBlock) -> TextPart:
    extra = {k: v for k, v in (block.model_extra or {}).items() if k != "cache_control"}
    return TextPart(block.text, cache=_cache(block), extensions=_tagged(extra))


def _turn(turn: InputMessage) -> Iterator[Message]:
    """One Messages turn as canonical messages: a user turn's tool results apart, in order."""
    if isinstance(turn.content, str):
        yield Message(turn.role, (TextPart(turn.content),))
        return
    if turn.role != "user":
        yield Message(turn.role, tuple(_parts(turn.content, turn.role)))
        return
    pending: list[Part] = []
    for block in turn.content:
        if isinstance(block, ToolResultBlock):
            if pending:
                yield Message("user", tuple(pending))
                pending = []
            yield Message("tool", (_tool_result(block),))
        else:
            pending.extend(_parts([block], "user"))
    if pending:
        yield Message("user", tuple(pending))


def _parts(blocks: Iterable[Block], role: str) -> Iterator[Part]:
    for index, block in enumerate(blocks):
        if isinstance(block, TextBlock):
            yield _text(block)
        elif isinstance(block, ImageBlock):
            yield ImagePart(_url(block.source, "image"), cache=_cache(block))
        elif isinstance(block, DocumentBlock):
            yield _document(block)
        elif isinstance(block, ThinkingBlock):
            yield _restored(block.signature) or ReasoningPart(text=block.thinking, signature=block.signature,
                                                              format=CLAUDE_FORMAT, cache=_cache(block))
        elif isinstance(block, RedactedThinkingBlock):
            yield _restored(block.data) or ReasoningPart(encrypted=block.data, format=CLAUDE_FORMAT)
        elif isinstance(block, ToolUseBlock):
            yield ToolCallPart(block.id, block.name, json.dumps(block.input, ensure_ascii=False), cache=_cache(block))
        else:
            raise bad_request(f"messages: a {block.type!r} block ({role} turn, block {index}) can only be read by "
                              "Claude on Anthropic's API; this model cannot take it.")


def _restored(wrapped: str) -> ReasoningPart | None:
    """Another provider's reasoning entry the gateway wrapped in a thinking block (reasoning.py), as it was."""
    detail = unwrap(wrapped)
    if detail is None:
        return None

    def text(key: str) -> str | None:
        value = detail.get(key)
        return value if isinstance(value, str) else None

    return ReasoningPart(text=text("text"), signature=text("signature"), encrypted=text("data"),
                         summary=text("summary"), format=text("format"), id=text("id"))


def _url(source: Source, what: str) -> str:
    extra = source.model_extra or {}
    if source.type == "base64" and isinstance(extra.get("data"), str) and isinstance(extra.get("media_type"), str):
        return f"data:{extra['media_type']};base64,{extra['data']}"
    if source.type == "url" and isinstance(extra.get("url"), str):
        return str(extra["url"])
    raise bad_request(f"messages: an {what} source of type {source.type!r} can only be read by Claude on "
                      "Anthropic's API; send base64 data or a URL.")


def _document(block: DocumentBlock) -> Part:
    source, extra = block.source, block.source.model_extra or {}
    if source.type == "text" and isinstance(extra.get("data"), str):
        return TextPart(str(extra["data"]), cache=_cache(block))
    return FilePart(url=_url(source, "document"), filename=block.title, cache=_cache(block))


def _tool_result(block: ToolResultBlock) -> ToolResultPart:
    content = block.content
    parts = (TextPart(content),) if isinstance(content, str) else tuple(_parts(content or (), "tool_result"))
    return ToolResultPart(block.tool_use_id, parts, is_error=bool(block.is_error), cache=_cache(block))


def _tool(tool: ToolDefinition) -> Tool:
    extra = {k: v for k, v in (tool.model_extra or {}).items() if k not in ("cache_control", "strict")}
    strict = (tool.model_extra or {}).get("strict")
    return Tool(tool.name, tool.description, tool.input_schema or {"type": "object", "properties": {}},
                strict if isinstance(strict, bool) else None, cache=_cache(tool), extensions=_tagged(extra))


def _tool_choice(kind: str, name: str | None) -> ToolChoice | None:
    if kind == "tool":
        if not name:
            raise bad_request("tool_choice: a `tool` choice names its tool (`name`).")
        return NamedTool(name)
    return {"any": "required", "none": "none", "auto": "auto"}.get(kind)  # type: ignore[return-value]


def _output(config: OutputConfig | None, legacy: Any) -> JsonSchemaFormat | None:
    fmt = config.format if config is not None and config.format is not None else legacy
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        return None
    return JsonSchemaFormat("output", fmt["schema"], strict=True)


def _reasoning_options(request: MessagesRequest) -> Reasoning | None:
    thinking, config = request.thinking, request.output_config
    effort = EFFORTS.get(config.effort) if config is not None and config.effort else None
    if thinking is None:
        return Reasoning(effort=effort) if effort else None
    if thinking.type == "disabled":
        return Reasoning(enabled=False)
    return Reasoning(effort=effort, budget_tokens=thinking.budget_tokens if thinking.type == "enabled" else None,
                     exclude=thinking.display == "omitted", enabled=True)
