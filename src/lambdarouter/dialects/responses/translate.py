"""A Responses request → the canonical conversation, for the providers that do not speak the Responses API.

Items become messages: a run of assistant items (reasoning, message, function calls) is one assistant message,
whose reasoning items give back the signed reasoning they carried (reasoning.py); a function call output is a
tool message. Functions inside a `namespace` tool are offered under one flat name, `<namespace>__<name>`, and the
answer's calls are named back (`tool_names`). What only OpenAI's own Responses API can do — its built-in tools
and their items, stored files, stored prompts, custom (freeform) tools — is a 400 naming it. `text.verbosity`
travels as an `openai-chat` extension: an OpenAI-format host takes it as chat's `verbosity`.
"""

from __future__ import annotations

from collections.abc import Iterable

from msgspec import Struct, field

from lambdarouter.core.conversation import (
    NO_EXTENSIONS,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    ChatRequest,
    FilePart,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedTool,
    Origin,
    OutputFormat,
    Part,
    Reasoning,
    ReasoningPart,
    RefusalPart,
    Sampling,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from lambdarouter.core.errors import GatewayError, bad_request
from lambdarouter.dialects.openrouter.inbound import reasoning_part
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
    NamespaceTool,
    ResponsesRequest,
)
from lambdarouter.dialects.responses.request import (
    NamedTool as NamedToolChoice,
)

NAMESPACE_SEPARATOR = "__"
ONLY_OPENAI = "only OpenAI's own Responses API runs it; choose an OpenAI model (e.g. openai/gpt-5)"


class Translation(Struct, frozen=True):
    request: ChatRequest
    tool_names: ToolNames


def translate(request: ResponsesRequest, body: bytes = b"") -> Translation:
    """The canonical request for `request` (`body`: as the client sent it), or a 400 naming what the Responses
    API alone can do."""
    if request.prompt is not None:
        raise bad_request(f"`prompt` (a prompt template stored at OpenAI) cannot be used with this model: "
                          f"{ONLY_OPENAI}.", parameter="prompt")
    tools, names = _tools(request)
    verbosity = request.text.verbosity if request.text else None
    return Translation(ChatRequest(
        messages=tuple(_messages(request)), tools=tuple(tools), tool_choice=_tool_choice(request),
        parallel_tool_calls=request.parallel_tool_calls, output=_output(request),
        sampling=Sampling(temperature=request.temperature, top_p=request.top_p, top_k=request.top_k,
                          frequency_penalty=request.frequency_penalty, presence_penalty=request.presence_penalty),
        max_output_tokens=request.max_output_tokens, reasoning=_reasoning(request),
        user=request.user or request.safety_identifier, metadata=request.metadata,
        extensions={OPENAI_CHAT: {"verbosity": verbosity}} if verbosity else NO_EXTENSIONS,
        origin=Origin(OPENAI_RESPONSES, body),
    ), {flat: pair for flat, pair in names.items() if pair[0]})


# -- tools -------------------------------------------------------------------------------------------------------
def _tools(request: ResponsesRequest) -> tuple[list[Tool], dict[str, tuple[str, str]]]:
    tools: list[Tool] = []
    names: dict[str, tuple[str, str]] = {}  # the name offered → (namespace or "", name)
    for tool in request.tools or ():
        if isinstance(tool, FunctionTool):
            tools.append(_function(tool, tool.name))
            names[tool.name] = ("", tool.name)
        elif isinstance(tool, NamespaceTool):
            for inner in tool.tools:
                if isinstance(inner, CustomTool):
                    raise _custom_tool(inner.name)
                flat = f"{tool.name}{NAMESPACE_SEPARATOR}{inner.name}"
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


def _function(tool: FunctionTool, name: str) -> Tool:
    return Tool(name, tool.description, tool.parameters or {"type": "object", "properties": {}}, tool.strict)


def _tool_choice(request: ResponsesRequest) -> ToolChoice | None:
    choice = request.tool_choice
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, NamedToolChoice):
        return NamedTool(choice.name)
    if isinstance(choice, AllowedTools):
        return choice.mode  # narrowing the offered tools to the allowed ones is not carried: the model sees all
    assert isinstance(choice, HostedToolChoice)
    raise bad_request(f"tool_choice {choice.type!r} names a built-in tool: {ONLY_OPENAI}.", tool=choice.type)


def _output(request: ResponsesRequest) -> OutputFormat | None:
    fmt = request.text.format if request.text else None
    if isinstance(fmt, FormatJSONObject):
        return JsonObjectFormat()
    if isinstance(fmt, FormatJSONSchema):
        return JsonSchemaFormat(fmt.name, fmt.schema_, fmt.description, fmt.strict)
    return None


def _reasoning(request: ResponsesRequest) -> Reasoning | None:
    """OpenAI's effort and summary, OpenRouter's budget and `exclude`. Effort `none` turns reasoning off (`enabled`
    false) and stays `none`, as chat's does (dialects/openrouter/inbound.py); the model's profile maps the rest."""
    asked = request.reasoning
    if asked is None:
        return None
    return Reasoning(effort=asked.effort, budget_tokens=asked.max_tokens, exclude=bool(asked.exclude),
                     enabled=False if asked.effort == "none" else asked.enabled,
                     summary=asked.summary or asked.generate_summary)


# -- items -------------------------------------------------------------------------------------------------------
class _AssistantTurn(Struct):
    """Consecutive assistant items, as one assistant message (its parts in the items' order)."""

    parts: list[Part] = field(default_factory=list)

    def add(self, item: InputItem) -> None:
        if isinstance(item, FunctionCallItem):
            name = f"{item.namespace}{NAMESPACE_SEPARATOR}{item.name}" if item.namespace else item.name
            self.parts.append(ToolCallPart(item.call_id, name, item.arguments))
        elif isinstance(item, ReasoningItem):
            self.parts.extend(_reasoning_parts(item))
        else:
            assert isinstance(item, MessageItem)
            for part in [item.content] if isinstance(item.content, str) else item.content:
                if isinstance(part, str | OutputText | InputText):
                    self.parts.append(TextPart(part if isinstance(part, str) else part.text))
                elif isinstance(part, Refusal):
                    self.parts.append(RefusalPart(part.refusal))
                else:
                    raise bad_request(f"An assistant message cannot hold a {part.type!r} part.")

    def message(self) -> Message | None:
        return Message("assistant", tuple(self.parts)) if self.parts else None


def _reasoning_parts(item: ReasoningItem) -> list[ReasoningPart]:
    """What a reasoning item carried back: the provider's signed reasoning, else its text (OpenAI's own
    encrypted reasoning means nothing to another provider)."""
    if details := details_of(item.encrypted_content):
        return [reasoning_part(detail) for detail in details]
    text = "".join(part.text for part in item.content or ())
    summary = "".join(part.text for part in item.summary)
    return [ReasoningPart(text=text or None, summary=summary or None)] if text or summary else []


def _messages(request: ResponsesRequest) -> list[Message]:
    messages: list[Message] = []
    if request.instructions:
        messages.append(Message("system", (TextPart(request.instructions),)))
    turn = _AssistantTurn()
    for item in request.items():
        if _is_assistant(item):
            turn.add(item)
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


def _message(item: InputItem) -> Message:
    if isinstance(item, MessageItem):
        content = (TextPart(item.content),) if isinstance(item.content, str) else _parts(item.content, item.role)
        return Message(item.role, content)
    if isinstance(item, FunctionCallOutputItem):
        output = (TextPart(item.output),) if isinstance(item.output, str) else _parts(item.output, "tool")
        return Message("tool", (ToolResultPart(item.call_id, output),))
    kind = item.type if isinstance(item, OtherItem | CustomToolCallItem | CustomToolCallOutputItem) else "unknown"
    raise bad_request(f"The input item type {kind!r} cannot be sent to this model: {ONLY_OPENAI}.", item=kind)


def _parts(parts: Iterable[object], role: str) -> tuple[Part, ...]:
    return tuple(_part(part, role) for part in parts)


def _part(part: object, role: str) -> Part:
    if isinstance(part, InputText | OutputText):
        return TextPart(part.text)
    if isinstance(part, InputImage):
        if not part.image_url:
            raise bad_request("input_image by file_id needs OpenAI's Files API: send image_url (a URL or a data: URL) "
                              f"for this model ({ONLY_OPENAI}).")
        return ImagePart(part.image_url, {"original": "high"}.get(part.detail or "", part.detail))
    if isinstance(part, InputFile):
        if not part.file_data:
            raise bad_request("input_file by file_id or file_url cannot be sent to this model: send file_data "
                              "(a data: URL) instead.")
        return FilePart(part.file_data, filename=part.filename)
    raise bad_request(f"A {role} message cannot hold a {getattr(part, 'type', '?')!r} part.")
