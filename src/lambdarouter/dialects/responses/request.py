"""POST /responses: OpenAI's Responses API request, plus OpenRouter's extensions.

Reference: https://platform.openai.com/docs/api-reference/responses/create, checked against the `openai`
SDK's `ResponseCreateParams`, and OpenRouter's `ResponsesRequest` (`models`, `provider`, `usage`, `plugins`,
`top_k`; https://openrouter.ai/docs/api-reference/responses). Unknown top-level fields are ignored here and
forwarded as sent to OpenAI's own Responses API (the native passthrough), so a newer SDK never makes a request
fail. Ranges are OpenAI's: out-of-range values are a 400, never clamped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from lambdarouter.dialects.openrouter.chat import ProviderPreferences, UsageConfig
from lambdarouter.dialects.openrouter.messages import WireModel
from lambdarouter.dialects.responses.items import InputItem, MessageItem

# Limits checked before any upstream call. Items: a coding agent's session holds two per tool call, and the
# 10 MB body cap (http/chat.py) bounds them anyway; tools: OpenAI's documented maximum of 128 is per request,
# a namespace counts its functions.
MAX_INPUT_ITEMS = 16384
MAX_TOOLS = 512
MAX_METADATA = 16


class FunctionTool(WireModel):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class CustomTool(WireModel):
    """A freeform tool: the model writes its `input` as plain text (optionally under a grammar `format`)."""

    type: Literal["custom"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    format: dict[str, Any] | None = None


class NamespaceTool(WireModel):
    """Functions grouped under one name (Codex sends its sub-agent tools so); calls name the namespace apart."""

    type: Literal["namespace"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    tools: list[Annotated[FunctionTool | CustomTool, Field(discriminator="type")]] = Field(max_length=MAX_TOOLS)


class HostedTool(WireModel):
    """A tool OpenAI runs itself (`web_search`, `file_search`, `code_interpreter`, `computer_use_preview`,
    `image_generation`, `mcp`, ...): only OpenAI's own Responses API can serve it."""

    type: str = Field(json_schema_extra={"not": {"enum": ["function", "custom", "namespace"]}})


def _tool_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("function", "custom", "namespace") else "hosted"


ToolParam = Annotated[
    Annotated[FunctionTool, Tag("function")] | Annotated[CustomTool, Tag("custom")]
    | Annotated[NamespaceTool, Tag("namespace")] | Annotated[HostedTool, Tag("hosted")],
    Discriminator(_tool_kind),
]


class NamedTool(WireModel):
    """`{"type": "function" | "custom", "name"}`: that tool, and only it."""

    type: Literal["function", "custom"]
    name: str


class AllowedTools(WireModel):
    """`{"type": "allowed_tools", "mode", "tools"}`: a subset of the tools the model may choose from."""

    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class HostedToolChoice(WireModel):
    """A built-in tool forced by its type (`{"type": "web_search"}`, `mcp`, ...)."""

    type: str = Field(json_schema_extra={"not": {"enum": ["function", "custom", "allowed_tools"]}})


def _choice_kind(value: Any) -> str:
    if isinstance(value, str):
        return "mode"
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return {"function": "named", "custom": "named", "allowed_tools": "allowed"}.get(str(kind), "hosted")


ToolChoice = Annotated[
    Annotated[Literal["none", "auto", "required"], Tag("mode")] | Annotated[NamedTool, Tag("named")]
    | Annotated[AllowedTools, Tag("allowed")] | Annotated[HostedToolChoice, Tag("hosted")],
    Discriminator(_choice_kind),
]


class FormatText(WireModel):
    type: Literal["text"]


class FormatJSONObject(WireModel):
    type: Literal["json_object"]


class FormatJSONSchema(WireModel):
    type: Literal["json_schema"]
    name: str = Field(min_length=1, max_length=64)
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None


TextFormat = Annotated[FormatText | FormatJSONObject | FormatJSONSchema, Field(discriminator="type")]


class TextConfig(WireModel):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class Reasoning(WireModel):
    """OpenAI's `reasoning` (`effort`, `summary`) and OpenRouter's (`max_tokens`, `exclude`, `enabled`)."""

    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None  # deprecated by OpenAI; accepted
    max_tokens: int | None = Field(default=None, ge=0)
    exclude: bool | None = None
    enabled: bool | None = None


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    input: str | Annotated[list[InputItem], Field(max_length=MAX_INPUT_ITEMS)]
    instructions: str | None = None
    tools: list[ToolParam] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: Reasoning | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    metadata: dict[str, str] | None = Field(default=None, max_length=MAX_METADATA)
    user: str | None = None
    safety_identifier: str | None = None
    include: list[str] | None = None
    store: bool | None = None
    stream: bool = False
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    background: bool | None = None
    prompt: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None

    # OpenRouter extensions
    models: list[str] | None = None
    provider: ProviderPreferences | None = None
    usage: UsageConfig | None = None
    transforms: list[str] | None = None
    plugins: list[dict[str, Any]] | None = None
    top_k: int | None = Field(default=None, ge=0)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)

    def model_ids(self) -> list[str]:
        """`model` then the `models` fallback list, without repeats."""
        return list(dict.fromkeys(([self.model] if self.model else []) + list(self.models or ())))

    def items(self) -> list[InputItem]:
        """`input` as items: a string is one user message."""
        if isinstance(self.input, str):
            return [MessageItem(role="user", content=self.input)]
        return self.input


# The gateway's own fields: never forwarded to OpenAI's Responses API.
OPENROUTER_ONLY_FIELDS = frozenset({"models", "provider", "usage", "transforms", "plugins", "top_k"})
