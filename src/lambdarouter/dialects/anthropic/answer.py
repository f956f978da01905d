"""The shapes of what /messages answers, as Anthropic documents them (https://platform.claude.com/docs/en/api/messages,
https://platform.claude.com/docs/en/api/errors): for the OpenAPI document and for the tests that hold the answers
to them. The answers themselves are built as plain dicts (stream.py, errors.py): a relayed answer keeps every field
the provider sent, which these models allow.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class MessageUsage(Open):
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cache_creation_input_tokens: int | None = Field(default=None, ge=0)
    cache_read_input_tokens: int | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0, description="USD the gateway charged for this message")


class ContentBlock(Open):
    """`text`, `thinking` (with its `signature`), `redacted_thinking`, `tool_use`, or a server tool's block."""

    type: str


class MessageAnswer(Open):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: str | None
    stop_sequence: str | None = None
    usage: MessageUsage


class MessageStreamEvent(Open):
    """One event of a streamed answer: `message_start`, `content_block_start` / `_delta` / `_stop`,
    `message_delta` (whose `usage` ends with the charged `cost`), `message_stop`, `ping` or `error`."""

    type: str
    message: MessageAnswer | None = None
    index: int | None = None
    delta: dict[str, Any] | None = None
    usage: MessageUsage | None = None


class TokenCount(BaseModel):
    input_tokens: int = Field(ge=0)


class AnthropicErrorObject(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    type: Literal["error"]
    error: AnthropicErrorObject
