"""A Responses request → the gateway's request for the providers that do not speak the Responses API.

Items become chat messages: a run of assistant items (reasoning, message, function calls) is one assistant
message, whose reasoning items give back their signed `reasoning_details` (reasoning.py); a function call output
is a tool message. Functions inside a `namespace` tool are offered under one flat name, `<namespace>__<name>`,
and the answer's calls are named back (`tool_names`). What only OpenAI's own Responses API can do — its
built-in tools and their items, stored files, stored prompts, custom (freeform) tools — is a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.responses.items import (
    CustomToolCallItem,
    CustomToolCallOutputItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputFile,
    InputImage,
    InputItem,
    InputText,
    MessageItem,
    OtherItem,
    OutputText,
    ReasoningItem,
    Refusal,
)
from lambdarouter.dialects.responses.reasoning import details_of
from lambdarouter.dialects.responses.render import ToolNames
from lambdarouter.dialects.responses.request import (
    AllowedTools,
    CustomTool,
    FormatJSONObject,
    FormatJSONSchema,
    FunctionTool,
    HostedTool,
    HostedToolChoice,
    NamedTool,
    NamespaceTool,
    ResponsesRequest,
)

NAMESPACE_SEPARATOR = "__"
ONLY_OPENAI = "only OpenAI's own Responses API runs it; choose an OpenAI model (e.g. openai/gpt-5)"


@dataclass(frozen=True, slots=True)
class Translation:
    chat: ChatCompletionRequest
    tool_names: ToolNames


def translate(request: ResponsesRequest) -> Translation:
    """The chat request for `request`, or a 400 naming what the Responses API alone can do."""
    tools, names = _tools(request)
    body: dict[str, Any] = {"messages": _messages(request), "stream": request.stream}
    body.update(request.model_dump(include={"model", "models", "provider", "usage", "transforms", "plugins",
                                            "temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty",
                                            "metadata", "parallel_tool_calls"}, exclude_none=True, by_alias=True))
    body["user"] = request.user or request.safety_identifier
    body["max_tokens"] = request.max_output_tokens
    if tools:
        body["tools"] = tools
        body["tool_choice"] = _tool_choice(request, names)
    if request.reasoning is not None:
        body["reasoning"] = request.reasoning.openrouter().model_dump(exclude_none=True)
    if request.text is not None:
        body["response_format"] = _response_format(request)
        body["verbosity"] = request.text.verbosity
    try:
        chat = ChatCompletionRequest.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        raise bad_request(f"This request cannot be translated for this model: {first['msg']}") from None
    return Translation(chat, {flat: pair for flat, pair in names.items() if pair[0]})


# -- tools -------------------------------------------------------------------------------------------------------
def _tools(request: ResponsesRequest) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    tools: list[dict[str, Any]] = []
    names: dict[str, tuple[str, str]] = {}  # the name offered → (namespace or "", name)
    for tool in request.tools or ():
        if isinstance(tool, FunctionTool):
            tools.append(_function(tool, tool.name))
            names[tool.name] = ("", tool.name)
        elif isinstance(tool, NamespaceTool):
            for inner in tool.tools:
                flat = f"{tool.name}{NAMESPACE_SEPARATOR}{inner.name}"
                if isinstance(inner, CustomTool):
                    raise _custom_tool(inner.name)
                tools.append(_function(inner, flat))
                names[flat] = (tool.name, inner.name)
        elif isinstance(tool, CustomTool):
            raise _custom_tool(tool.name)
        else:
            assert isinstance(tool, HostedTool)
            raise bad_request(f"The built-in tool {tool.type!r} cannot be used with this model: {ONLY_OPENAI}.",
                              tool=tool.type)
    return tools, names


def _custom_tool(name: str) -> GatewayError:
    return bad_request(f"The custom (freeform) tool {name!r} cannot be used with this model: {ONLY_OPENAI}. "
                       "Declare it as a function tool instead.", tool=name)


def _function(tool: FunctionTool, name: str) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "description": tool.description,
                                "parameters": tool.parameters or {"type": "object", "properties": {}},
                                "strict": tool.strict}
    return {"type": "function", "function": {k: v for k, v in function.items() if v is not None}}


def _tool_choice(request: ResponsesRequest, names: dict[str, tuple[str, str]]) -> Any:
    choice = request.tool_choice
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, NamedTool):
        return {"type": "function", "function": {"name": choice.name}}
    if isinstance(choice, AllowedTools):
        return choice.mode  # narrowing the offered tools to the allowed ones is not carried: the model sees all
    assert isinstance(choice, HostedToolChoice)
    raise bad_request(f"tool_choice {choice.type!r} names a built-in tool: {ONLY_OPENAI}.", tool=choice.type)


def _response_format(request: ResponsesRequest) -> dict[str, Any] | None:
    fmt = request.text.format if request.text else None
    if isinstance(fmt, FormatJSONObject):
        return {"type": "json_object"}
    if isinstance(fmt, FormatJSONSchema):
        schema = {"name": fmt.name, "schema": fmt.schema_, "description": fmt.description, "strict": fmt.strict}
        return {"type": "json_schema", "json_schema": {k: v for k, v in schema.items() if v is not None}}
    return None


# -- items -------------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _AssistantTurn:
    """Consecutive assistant items, as one chat assistant message."""

    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def message(self) -> dict[str, Any] | None:
        if not (self.text or self.refusal or self.calls or self.details or self.reasoning):
            return None
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.calls:
            message["tool_calls"] = self.calls
        if self.details:
            message["reasoning_details"] = self.details
        elif self.reasoning:
            message["reasoning"] = "".join(self.reasoning)
        return message


def _messages(request: ResponsesRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    turn = _AssistantTurn()
    for item in request.items():
        if _is_assistant(item):
            _add_to_turn(turn, item)
            continue
        if (message := turn.message()) is not None:
            messages.append(message)
        turn = _AssistantTurn()
        messages.append(_message(item))
    if (message := turn.message()) is not None:
        messages.append(message)
    return messages


def _is_assistant(item: InputItem) -> bool:
    return (isinstance(item, FunctionCallItem | ReasoningItem)
            or (isinstance(item, MessageItem) and item.role == "assistant"))


def _add_to_turn(turn: _AssistantTurn, item: InputItem) -> None:
    if isinstance(item, FunctionCallItem):
        name = f"{item.namespace}{NAMESPACE_SEPARATOR}{item.name}" if item.namespace else item.name
        turn.calls.append({"id": item.call_id, "type": "function",
                           "function": {"name": name, "arguments": item.arguments}})
    elif isinstance(item, ReasoningItem):
        details = details_of(item.encrypted_content)
        turn.details.extend(details)
        if not details:
            turn.reasoning.extend(part.text for part in [*(item.content or ()), *item.summary])
    else:
        assert isinstance(item, MessageItem)
        for part in [item.content] if isinstance(item.content, str) else item.content:
            if isinstance(part, str | OutputText | InputText):
                turn.text.append(part if isinstance(part, str) else part.text)
            elif isinstance(part, Refusal):
                turn.refusal.append(part.refusal)
            else:
                raise bad_request(f"An assistant message cannot hold a {part.type!r} part.")


def _message(item: InputItem) -> dict[str, Any]:
    if isinstance(item, MessageItem):
        content = item.content if isinstance(item.content, str) else _parts(item.content, item.role)
        return {"role": item.role, "content": content}
    if isinstance(item, FunctionCallOutputItem):
        output = item.output if isinstance(item.output, str) else _parts(item.output, "tool")
        return {"role": "tool", "tool_call_id": item.call_id, "content": output}
    kind = item.type if isinstance(item, OtherItem | CustomToolCallItem | CustomToolCallOutputItem) else "unknown"
    raise bad_request(f"The input item type {kind!r} cannot be sent to this model: {ONLY_OPENAI}.", item=kind)


def _parts(parts: Iterable[Any], role: str) -> list[dict[str, Any]]:
    return [_part(part, role) for part in parts]


def _part(part: Any, role: str) -> dict[str, Any]:
    if isinstance(part, InputText | OutputText):
        return {"type": "text", "text": part.text}
    if isinstance(part, InputImage):
        if not part.image_url:
            raise bad_request("input_image by file_id needs OpenAI's Files API: send image_url (a URL or a data: URL) "
                              f"for this model ({ONLY_OPENAI}).")
        detail = {"original": "high"}.get(part.detail or "", part.detail)
        return {"type": "image_url", "image_url": {"url": part.image_url, **({"detail": detail} if detail else {})}}
    if isinstance(part, InputFile):
        if not part.file_data:
            raise bad_request("input_file by file_id or file_url cannot be sent to this model: send file_data "
                              "(a data: URL) instead.")
        file = {"file_data": part.file_data, "filename": part.filename}
        return {"type": "file", "file": {k: v for k, v in file.items() if v is not None}}
    raise bad_request(f"A {role} message cannot hold a {getattr(part, 'type', '?')!r} part.")
