"""The Messages request as Anthropic defines it (https://platform.claude.com/docs/en/api/messages).

Validated as loosely as Anthropic's own API would accept it and no looser where the gateway reads it: every
object keeps its unknown fields (a newer beta field reaches Anthropic as sent), block types the gateway does
not know (server tool results, search results, container uploads…) are kept as `OtherBlock`, and what the
gateway itself reads (model, max_tokens, roles, the blocks it translates) has the types the API documents.
Claude Code sends `system` turns inside `messages` (its per-turn-control beta): they are a role here too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from lambdarouter.core.errors import GatewayError


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextBlock(Wire):
    type: Literal["text"]
    text: str


class Source(Wire):
    """An image or document source: base64, url, text, content or file (only `type` is read here)."""

    type: str


class ImageBlock(Wire):
    type: Literal["image"]
    source: Source


class DocumentBlock(Wire):
    type: Literal["document"]
    source: Source
    title: str | None = None


class ThinkingBlock(Wire):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(Wire):
    type: Literal["redacted_thinking"]
    data: str


class ToolUseBlock(Wire):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(Wire):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Block] | None = None
    is_error: bool | None = None


class OtherBlock(Wire):
    """A block type the gateway does not translate (server tools, search results, …): kept as sent."""

    type: str


KNOWN_BLOCKS = frozenset({"text", "image", "document", "thinking", "redacted_thinking", "tool_use", "tool_result"})


def _block_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in KNOWN_BLOCKS else "other"


Block = Annotated[
    Annotated[TextBlock, Tag("text")] | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")] | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[RedactedThinkingBlock, Tag("redacted_thinking")] | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ToolResultBlock, Tag("tool_result")] | Annotated[OtherBlock, Tag("other")],
    Discriminator(_block_tag),
]


class InputMessage(Wire):
    role: Literal["user", "assistant", "system"]
    content: str | list[Block]


class ToolDefinition(Wire):
    """A client tool (`input_schema`) or an Anthropic server tool (`type` like `web_search_20250305`)."""

    name: str
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None


class ToolChoice(Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Thinking(Wire):
    """`enabled` (with `budget_tokens`), `disabled`, `adaptive`, and whatever type comes next."""

    type: str
    budget_tokens: int | None = Field(default=None, ge=1)
    display: str | None = None


class OutputConfig(Wire):
    effort: str | None = None
    format: dict[str, Any] | None = None


class Metadata(Wire):
    user_id: str | None = None


class CountTokensRequest(Wire):
    """`POST /messages/count_tokens`: the Messages request without the output controls."""

    model: str = Field(min_length=1)
    messages: list[InputMessage]
    system: str | list[TextBlock] | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)
    stream: bool | None = None
    stop_sequences: list[str] | None = None
    # https://platform.claude.com/docs/en/api/messages: temperature "Ranges from 0.0 to 1.0".
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    metadata: Metadata | None = None
    service_tier: str | None = None


def parse(model: type[CountTokensRequest], body: bytes) -> Any:
    """The body as `model`, or a 400 saying plainly what is wrong (Anthropic's `invalid_request_error`)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors: list[Any] = exc.errors(include_url=False, include_input=False)
        if errors[0]["type"] == "json_invalid":
            raise GatewayError(400, "The request body is not valid JSON.") from None
        # Of the branches a union tried, the one that got furthest says what is wrong.
        deepest = max(errors, key=lambda error: len(error["loc"]))
        location = _location(deepest["loc"])
        raise GatewayError(400, f"{location}: {deepest['msg']}" if location else deepest["msg"]) from None


def _location(loc: tuple[Any, ...]) -> str:
    """`messages.0.content.0.text`: pydantic's path without its union branch names (`str`, `list[...]`, tags)."""
    parts: list[str] = []
    for position, part in enumerate(loc):
        text = str(part)
        after_index = position > 0 and isinstance(loc[position - 1], int)
        if text == "str" or "[" in text or text.startswith("function-") or (
                after_index and text in KNOWN_BLOCKS | {"other"}):
            continue
        parts.append(text)
    return ".".join(parts)

ToolResultBlock.model_rebuild()
