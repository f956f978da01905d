"""The input items of OpenAI's Responses API: messages of typed parts, function calls and their outputs,
reasoning items, and whatever else a client echoes back (built-in tool calls, item references).

Reference: https://platform.openai.com/docs/api-reference/responses/create (`input`), checked against the
`openai` SDK's own `ResponseInputItemParam` types. Items keep unknown fields (`WireModel`), so an item the
gateway forwards to OpenAI's own Responses API loses nothing. Item types the gateway does not translate are
kept as `OtherItem` (the native passthrough forwards them; the translated path refuses them by name).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from lambdarouter.dialects.openrouter.messages import WireModel


class InputText(WireModel):
    type: Literal["input_text"]
    text: str


class InputImage(WireModel):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high", "original"] | None = None


class InputFile(WireModel):
    type: Literal["input_file"]
    file_data: str | None = None
    file_url: str | None = None
    file_id: str | None = None
    filename: str | None = None


class OutputText(WireModel):
    """An assistant message's text, as a client sends a previous answer back."""

    type: Literal["output_text"]
    text: str


class Refusal(WireModel):
    type: Literal["refusal"]
    refusal: str


InputPart = Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]
MessagePart = Annotated[InputText | InputImage | InputFile | OutputText | Refusal, Field(discriminator="type")]


class MessageItem(WireModel):
    """`{"role", "content"}` (the SDKs' EasyInputMessage; `type` may be left out) or a previous answer's message."""

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[MessagePart]
    id: str | None = None


class _Call(WireModel):
    call_id: str
    name: str
    namespace: str | None = None  # the call of a tool inside a `namespace` tool
    id: str | None = None


class _CallOutput(WireModel):
    call_id: str
    output: str | list[InputPart]
    id: str | None = None


class FunctionCallItem(_Call):
    type: Literal["function_call"]
    arguments: str


class FunctionCallOutputItem(_CallOutput):
    type: Literal["function_call_output"]


class CustomToolCallItem(_Call):
    type: Literal["custom_tool_call"]
    input: str


class CustomToolCallOutputItem(_CallOutput):
    type: Literal["custom_tool_call_output"]


class SummaryText(WireModel):
    type: Literal["summary_text"] = "summary_text"
    text: str


class ReasoningText(WireModel):
    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class ReasoningItem(WireModel):
    """A previous answer's reasoning. `encrypted_content` is OpenAI's own blob for its models, or the gateway's
    carrier of another provider's signed reasoning (dialects/responses/reasoning.py)."""

    type: Literal["reasoning"]
    id: str | None = None
    summary: list[SummaryText] = Field(default_factory=list)
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None


_TRANSLATED = ("message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output",
               "reasoning")


class OtherItem(WireModel):
    """Any other item: built-in tool calls and their outputs (`web_search_call`, `computer_call_output`, ...),
    `item_reference`, compaction items. Only OpenAI's own Responses API understands them."""

    # Not one of the translated types: the request schema's `oneOf` branches exclude each other.
    type: str = Field(json_schema_extra={"not": {"enum": list(_TRANSLATED)}})


def _item_kind(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", "message")
    return kind if kind in _TRANSLATED else "other"


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[CustomToolCallItem, Tag("custom_tool_call")]
    | Annotated[CustomToolCallOutputItem, Tag("custom_tool_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[OtherItem, Tag("other")],
    Discriminator(_item_kind),
]
