"""OpenRouter's chat request (OpenAI Chat Completions plus OpenRouter's fields) → the canonical conversation.

Pure translation of an already validated `ChatCompletionRequest`. Whatever the canonical model does not
carry (a message's unknown fields, `reasoning` text beside `reasoning_details`, OpenAI-only request fields
such as `logit_bias` or `audio`) is kept as an `openai-chat` extension, which the OpenAI-format adapter
merges back verbatim, so an OpenAI-compatible host still receives what the client sent. OpenRouter's own
routing fields (`models`, `provider`, `usage`, `transforms`, `plugins`) are the gateway's business and are
not part of the conversation.

- system and developer messages keep their role; a message's `cache_control` (OpenRouter's prompt-caching
  syntax, on a message, a part or a tool) becomes a `CacheControl` breakpoint;
- an assistant message's `reasoning_details` become reasoning parts (before its text, as the providers
  produced them), `refusal` a refusal part, tool calls tool-call parts;
- OpenAI's deprecated function calling (`function_call`, the `function` role) becomes tool calls and tool
  results paired by generated ids: each function message answers the latest call of its name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from lambdarouter.core.conversation import (
    NO_EXTENSIONS,
    OPENAI_CHAT,
    AudioPart,
    CacheControl,
    ChatRequest,
    Extensions,
    FilePart,
    GrammarFormat,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedTool,
    OutputFormat,
    Part,
    Reasoning,
    ReasoningPart,
    RefusalPart,
    Sampling,
    TextFormat,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    VideoPart,
)
from lambdarouter.dialects.openrouter import messages as wire
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest

# Request fields only OpenAI-format hosts understand: forwarded to them as sent, unknown to other formats.
OPENAI_ONLY_FIELDS = frozenset({"logit_bias", "audio", "prediction", "store", "service_tier", "web_search_options",
                                "prompt_cache_options"})
SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty", "repetition_penalty",
                   "min_p", "seed")
# reasoning_details entry type → the ReasoningPart field its payload goes to
# (https://openrouter.ai/docs/use-cases/reasoning-tokens#reasoning-details-api-shape).
DETAIL_PAYLOADS: Mapping[str, tuple[str, str]] = {
    "reasoning.text": ("text", "text"), "reasoning.encrypted": ("data", "encrypted"),
    "reasoning.summary": ("summary", "summary"),
}


def to_canonical(request: ChatCompletionRequest) -> ChatRequest:
    """The conversation and options of an OpenRouter chat request, as the canonical model says them."""
    openai_only = OPENAI_ONLY_FIELDS & request.model_fields_set
    top = request.model_dump(mode="json", include=set(openai_only), by_alias=True) if openai_only else {}
    cache = request.cache_control
    return ChatRequest(
        messages=tuple(_Messages().translate(request.messages)),
        tools=tuple(_tool(t) for t in request.tools or () if isinstance(t, wire.FunctionTool)),
        tool_choice=_tool_choice(request.tool_choice),
        parallel_tool_calls=request.parallel_tool_calls,
        output=_output(request.response_format),
        sampling=Sampling(**{name: getattr(request, name) for name in SAMPLING_FIELDS}),
        max_output_tokens=request.output_token_limit(),
        choices=request.n,
        stop=(request.stop,) if isinstance(request.stop, str) else tuple(request.stop or ()),
        reasoning=_reasoning_options(request),
        modalities=tuple(request.modalities or ()),
        user=request.user,
        metadata=request.metadata,
        extensions=_tagged(top),
        verbosity=request.verbosity,
        logprobs=(request.top_logprobs or 0) if request.logprobs else None,
        cache=CacheControl(cache.type, cache.ttl) if cache is not None else None,
        prompt_cache_key=request.prompt_cache_key,
        session_id=request.session_id,
        image_config=request.image_config,
    )


def _reasoning_options(request: ChatCompletionRequest) -> Reasoning | None:
    """`reasoning`, `reasoning_effort` and `include_reasoning` as one `Reasoning` (None: nothing asked).

    Effort "none" turns reasoning off (`enabled` false) and stays "none" for providers that say it so (OpenAI);
    `include_reasoning: true` asks for reasoning at the model's default, `false` hides it (`exclude`).
    """
    reasoning, effort = request.reasoning, request.effort()
    if reasoning is None and effort is None and request.include_reasoning is None:
        return None
    enabled = reasoning.enabled if reasoning else None
    if effort == "none":
        enabled = False
    elif enabled is None and request.include_reasoning and effort is None:
        enabled = True
    return Reasoning(effort=effort, budget_tokens=reasoning.max_tokens if reasoning else None,
                     exclude=request.excludes_reasoning(), enabled=enabled,
                     summary=reasoning.summary if reasoning else None)


def _tagged(fields: Mapping[str, Any]) -> Extensions:
    return {OPENAI_CHAT: fields} if fields else NO_EXTENSIONS


def _cache(model: BaseModel) -> CacheControl | None:
    control = (model.model_extra or {}).get("cache_control")
    if not isinstance(control, dict):
        return None
    ttl = control.get("ttl")
    return CacheControl(str(control.get("type") or "ephemeral"), ttl if isinstance(ttl, str) else None)


def _extras(model: BaseModel, *also: tuple[str, Any]) -> dict[str, Any]:
    """A wire object's fields the model does not carry: its unknown fields (but a breakpoint the model
    does carry), and `also` where it is set."""
    extra = {k: v for k, v in (model.model_extra or {}).items() if not (k == "cache_control" and _cache(model))}
    extra.update((name, value) for name, value in also if value is not None)
    return extra


def _nested(model: BaseModel, *inner: str) -> dict[str, Any]:
    """`_extras` of a part, plus those of its inner wire objects (`image_url`, `function`...) under their names."""
    fields = _extras(model)
    for name in inner:
        value = getattr(model, name, None)
        if isinstance(value, BaseModel) and (extra := _extras(value)):
            fields[name] = extra
    return fields


def _part(part: wire.ContentPart) -> Part:
    cache, ext = _cache(part), _tagged(_nested(part, "image_url", "input_audio", "video_url"))
    if isinstance(part, wire.TextPart):
        return TextPart(part.text, cache=cache, extensions=ext)
    if isinstance(part, wire.ImagePart):
        return ImagePart(part.image_url.url, part.image_url.detail, cache=cache, extensions=ext)
    if isinstance(part, wire.AudioPart):
        return AudioPart(part.input_audio.data, part.input_audio.format, cache=cache, extensions=ext)
    if isinstance(part, wire.VideoPart):
        return VideoPart(part.video_url.url, cache=cache, extensions=ext)
    if isinstance(part, wire.FilePart):
        file = part.file
        url = file.get("file_data") or file.get("url")
        known = {"file_data", "url", "file_id", "filename"}
        rest = {k: v for k, v in file.items() if k not in known or not isinstance(v, str)}
        ext = _tagged({**_extras(part), **({"file": rest} if rest else {})})
        return FilePart(url if isinstance(url, str) else None, _str(file.get("file_id")), _str(file.get("filename")),
                        cache=cache, extensions=ext)
    return RefusalPart(part.refusal, cache=cache, extensions=ext)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _content(content: str | list[wire.ContentPart] | None) -> tuple[Part, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(content),)
    return tuple(_part(p) for p in content)


def _reasoning(detail: Mapping[str, Any]) -> ReasoningPart:
    """One `reasoning_details` entry; what the model has no field for (its `index`...) stays an extension."""
    kind = detail.get("type")
    payload_key, payload_field = DETAIL_PAYLOADS.get(kind if isinstance(kind, str) else "", ("", ""))
    if not isinstance(detail.get(payload_key), str):
        return ReasoningPart(extensions=_tagged(dict(detail)))  # unknown to the model: the adapters skip it
    taken = {"type", payload_key, "signature", "format", "id"}
    values = {key: detail.get(key) for key in taken - {"type"}}
    rest = {k: v for k, v in detail.items() if k not in taken or (k != "type" and not isinstance(v, str))}
    payload = {payload_field: _str(values[payload_key])}
    return ReasoningPart(text=payload.get("text"), encrypted=payload.get("encrypted"), summary=payload.get("summary"),
                         signature=_str(values["signature"]), format=_str(values["format"]), id=_str(values["id"]),
                         extensions=_tagged(rest))


class _Messages:
    """One request's messages; the deprecated function calls' generated ids stay unique across them."""

    def __init__(self) -> None:
        self._calls = 0
        self._latest: dict[str, str] = {}

    def translate(self, messages: Iterable[wire.Message]) -> list[Message]:
        return [self._message(m) for m in messages]

    def _message(self, message: wire.Message) -> Message:
        cache, name = _cache(message), getattr(message, "name", None)
        if isinstance(message, wire.AssistantMessage):
            extras = _extras(message, ("reasoning", message.reasoning))
            if message.content is None and "content" in message.model_fields_set:
                extras["content"] = None  # said explicitly: an OpenAI host gets it as sent
            return Message("assistant", self._assistant(message), name, cache=cache, extensions=_tagged(extras))
        if isinstance(message, wire.ToolMessage):
            result = ToolResultPart(message.tool_call_id, _content(message.content))
            return Message("tool", (result,), cache=cache, extensions=_tagged(_extras(message)))
        if isinstance(message, wire.FunctionMessage):
            result = ToolResultPart(self._latest.get(message.name) or self._new(message.name),
                                    _content(message.content or ""), message.name)
            return Message("tool", (result,), cache=cache, extensions=_tagged(_extras(message)))
        return Message(message.role, _content(message.content), name, cache=cache, extensions=_tagged(_extras(message)))

    def _assistant(self, message: wire.AssistantMessage) -> tuple[Part, ...]:
        parts: list[Part] = [_reasoning(d) for d in message.reasoning_details or ()]
        parts.extend(_content(message.content))
        if message.refusal:
            parts.append(RefusalPart(message.refusal))
        parts.extend(ToolCallPart(c.id, c.function.name, c.function.arguments, cache=_cache(c),
                                  extensions=_tagged(_nested(c, "function"))) for c in message.tool_calls or ())
        if (legacy := message.function_call) is not None:
            parts.append(ToolCallPart(self._new(legacy.name), legacy.name, legacy.arguments))
        return tuple(parts)

    def _new(self, name: str) -> str:
        """An id for a deprecated function call (the API gives none); its result pairs with it by name."""
        self._calls += 1
        self._latest[name] = f"function_call_{self._calls}"
        return self._latest[name]


def _tool(tool: wire.FunctionTool) -> Tool:
    function = tool.function
    return Tool(function.name, function.description, function.parameters, function.strict,
                cache=_cache(tool) or _cache(function), extensions=_tagged(_nested(tool, "function")))


def _tool_choice(choice: wire.ToolChoice | None) -> ToolChoice | None:
    if isinstance(choice, wire.NamedToolChoice):
        return NamedTool(choice.function.name)
    if isinstance(choice, wire.ServerToolChoice):
        return None  # refused before translation (dialects.openrouter.plugins)
    return choice


def _output(fmt: wire.ResponseFormat | None) -> OutputFormat | None:
    if fmt is None:
        return None
    if isinstance(fmt, wire.ResponseFormatJSONSchema):
        spec = fmt.json_schema
        return JsonSchemaFormat(spec.name, spec.schema_, spec.description, spec.strict,
                                _tagged(_nested(fmt, "json_schema")))
    if isinstance(fmt, wire.ResponseFormatJSONObject):
        return JsonObjectFormat(_tagged(_extras(fmt)))
    if isinstance(fmt, wire.ResponseFormatGrammar):
        return GrammarFormat("grammar", fmt.grammar, _tagged(_extras(fmt)))
    if isinstance(fmt, wire.ResponseFormatPython):
        return GrammarFormat("python", None, _tagged(_extras(fmt)))
    return TextFormat(_tagged(_extras(fmt)))


def reasoning_part(detail: Mapping[str, Any]) -> ReasoningPart:
    """One OpenRouter `reasoning_details` entry (the `detail` of a `ReasoningDelta`) as a reasoning part: what
    another dialect that carried the entries across a turn (the Responses API's `encrypted_content`) sends back."""
    return _reasoning(detail)
