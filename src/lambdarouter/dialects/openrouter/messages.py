"""Chat messages, content parts and tools as the OpenAI Chat Completions API defines them.

Reference: https://platform.openai.com/docs/api-reference/chat/create (messages, tools, tool_choice).
Messages and parts allow extra fields so vendor extensions (e.g. Anthropic-style `cache_control` on a
part, as OpenRouter documents) reach OpenAI-compatible hosts unchanged; unknown part or role *types* are
rejected by the discriminators.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from lambdarouter.dialects.openrouter.wire import WireModel as WireModel  # re-exported: the chat schemas use it


class CacheControl(WireModel):
    """Anthropic's cache breakpoint as OpenRouter takes it (`AnthropicCacheControlDirective`)."""

    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class TextPart(WireModel):
    type: Literal["text"]
    text: str


class ImageURL(WireModel):
    url: str
    # "original" is OpenRouter's (true original resolution), "high" where a provider has no such tier.
    detail: Literal["auto", "low", "high", "original"] | None = None


class ImagePart(WireModel):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(WireModel):
    data: str
    format: str


class AudioPart(WireModel):
    type: Literal["input_audio"]
    input_audio: InputAudio


class VideoURL(WireModel):
    url: str  # an http(s) URL or a data: URL


class VideoPart(WireModel):
    """A video (`video_url`, and the deprecated `input_video` form of the same object)."""

    type: Literal["video_url", "input_video"]
    video_url: VideoURL


class FilePart(WireModel):
    type: Literal["file"]
    file: dict[str, Any]


class RefusalPart(WireModel):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[TextPart | ImagePart | AudioPart | VideoPart | FilePart | RefusalPart,
                       Field(discriminator="type")]


class FunctionCall(WireModel):
    name: str
    arguments: str


class ToolCall(WireModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(WireModel):
    role: Literal["system"]
    content: str | list[ContentPart]
    name: str | None = None


class DeveloperMessage(WireModel):
    role: Literal["developer"]
    content: str | list[ContentPart]
    name: str | None = None


class UserMessage(WireModel):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(WireModel):
    role: Literal["assistant"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    # OpenRouter: reasoning text and signed details a client sends back unchanged on the next turn.
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None
    function_call: FunctionCall | None = None  # deprecated by OpenAI; accepted


class ToolMessage(WireModel):
    role: Literal["tool"]
    content: str | list[ContentPart]
    tool_call_id: str


class FunctionMessage(WireModel):
    """Deprecated `function` role: accepted so old clients are not rejected."""

    role: Literal["function"]
    content: str | None
    name: str


Message = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage,
    Field(discriminator="role"),
]


class FunctionDefinition(WireModel):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(WireModel):
    type: Literal["function"]
    function: FunctionDefinition


class ServerTool(WireModel):
    """A tool the router runs itself: OpenRouter's `openrouter:*` server tools and the `web_search` shorthand
    (OpenAI Responses syntax). Whether the gateway offers one is `dialects.openrouter.plugins`' decision."""

    type: str = Field(pattern=r"^(openrouter:[a-z_]+|web_search(_preview)?(_\d{4}_\d{2}_\d{2})?)$")
    parameters: dict[str, Any] | None = None


Tool = FunctionTool | ServerTool


class NamedFunction(WireModel):
    name: str


class NamedToolChoice(WireModel):
    type: Literal["function"]
    function: NamedFunction


class ServerToolChoice(WireModel):
    """OpenRouter's extension: force a server tool by naming it as the type."""

    type: str = Field(pattern=r"^(openrouter:[a-z_]+|web_search\w*)$")


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice | ServerToolChoice


class JSONSchemaFormat(WireModel):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormatText(WireModel):
    type: Literal["text"]


class ResponseFormatJSONObject(WireModel):
    type: Literal["json_object"]


class ResponseFormatJSONSchema(WireModel):
    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


class ResponseFormatGrammar(WireModel):
    """OpenRouter's custom grammar format: the grammar text constrains generation (hosts with grammar support)."""

    type: Literal["grammar"]
    grammar: str


class ResponseFormatPython(WireModel):
    type: Literal["python"]


ResponseFormat = Annotated[
    ResponseFormatText | ResponseFormatJSONObject | ResponseFormatJSONSchema | ResponseFormatGrammar
    | ResponseFormatPython, Field(discriminator="type")
]
