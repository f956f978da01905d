"""Canonical request → OpenAI Chat Completions request body (https://platform.openai.com/docs/api-reference/chat).

OpenAI's chat format is also the inbound dialect of /chat/completions, so what the client said that the
canonical model does not carry (`openai-chat` extensions: unknown fields on messages and parts, `logit_bias`,
`audio`, ...) is merged back verbatim: an OpenAI-compatible host receives the client's request, minus the
gateway's own fields and the parameters the endpoint does not take, with the upstream model id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdarouter.core.conversation import (
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
    ReasoningPart,
    RefusalPart,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    VideoPart,
    extension,
    single_text,
)
from lambdarouter.core.parameters import SAMPLING_PARAMETERS
from lambdarouter.profiles import openai as openai_profile
from lambdarouter.providers.base import UpstreamCall

Body = dict[str, Any]


def build_body(call: UpstreamCall) -> Body:
    request = call.request
    body: Body = {"model": call.endpoint.upstream_id, "messages": [r for m in request.messages for r in _message(m)]}
    sampling = request.sampling
    body.update((name, value) for name in SAMPLING_PARAMETERS if (value := getattr(sampling, name)) is not None)
    if request.stop:
        body["stop"] = list(request.stop)
    if request.max_output_tokens is not None:
        body[call.host.spec.max_tokens_field] = request.max_output_tokens
    if request.choices is not None:
        body["n"] = request.choices
    body.update(_tooling(request))
    if request.output is not None:
        body["response_format"] = _response_format(request.output)
    limit = request.max_output_tokens or call.endpoint.max_output_tokens
    if (effort := openai_profile.reasoning_effort(request.reasoning, limit)) is not None:
        body["reasoning_effort"] = effort
    body.update(_output_options(request))
    if request.modalities:
        body["modalities"] = list(request.modalities)
    if request.user is not None:
        body["user"] = request.user
    if request.metadata is not None:
        body["metadata"] = dict(request.metadata)
    body = _merged(body, request.extensions)
    body["stream"] = call.stream
    if call.stream:
        # Usage arrives only when asked for; the gateway always needs it to charge.
        body["stream_options"] = {"include_usage": True}
    return body


# OpenRouter's verbosity levels OpenAI lacks, as the nearest it has (low, medium, high:
# https://platform.openai.com/docs/api-reference/chat/create); efforts: profiles/openai.py.
VERBOSITY: Mapping[str, str] = {"xhigh": "high", "max": "high"}
# Image detail: OpenRouter's "original" where a provider has no original-resolution tier (its schema says so).
DETAIL: Mapping[str, str] = {"original": "high"}


def _output_options(request: ChatRequest) -> Body:
    """verbosity, log probabilities and the prompt cache key, as OpenAI's Chat Completions names them."""
    out: Body = {}
    if request.verbosity is not None:
        out["verbosity"] = VERBOSITY.get(request.verbosity, request.verbosity)
    if request.logprobs is not None:
        out["logprobs"] = True
        if request.logprobs:
            out["top_logprobs"] = request.logprobs
    if request.prompt_cache_key is not None:
        out["prompt_cache_key"] = request.prompt_cache_key
    return out


def _merged(rendered: Body, extensions: Extensions) -> Body:
    """`rendered` with the `openai-chat` extension's fields put back as the client sent them."""
    return _deep_merge(rendered, extension(extensions, OPENAI_CHAT))


def _deep_merge(base: Body, extra: Mapping[str, Any]) -> Body:
    for key, value in extra.items():
        inner = base.get(key)
        base[key] = _deep_merge(dict(inner), value) if isinstance(inner, dict) and isinstance(value, Mapping) \
            else value
    return base


def _cached(rendered: Body, cache: CacheControl | None, extensions: Extensions) -> Body:
    if cache is not None:
        rendered["cache_control"] = {"type": cache.type, **({"ttl": cache.ttl} if cache.ttl else {})}
    return _merged(rendered, extensions)


def _message(message: Message) -> list[Body]:
    """One canonical message as OpenAI messages: a tool message becomes one message per result."""
    if message.role == "tool":
        return [_cached({"role": "tool", "tool_call_id": result.call_id, "content": _content(result.content)},
                        message.cache, message.extensions)
                for result in message.parts if isinstance(result, ToolResultPart)]
    rendered: Body = {"role": message.role}
    if message.role == "assistant":
        rendered.update(_assistant(message.parts))
    else:
        rendered["content"] = _content(message.parts)
    if message.name is not None:
        rendered["name"] = message.name
    return [_cached(rendered, message.cache, message.extensions)]


def _assistant(parts: tuple[Part, ...]) -> Body:
    said = tuple(p for p in parts if isinstance(p, TextPart | ImagePart | AudioPart | VideoPart | FilePart))
    out: Body = {"content": _content(said)} if said else {}  # optional beside tool calls
    if refusals := [p.text for p in parts if isinstance(p, RefusalPart)]:
        out["refusal"] = "".join(refusals)
    if calls := [_tool_call(p) for p in parts if isinstance(p, ToolCallPart)]:
        out["tool_calls"] = calls
    if details := [_detail(p) for p in parts if isinstance(p, ReasoningPart)]:
        out["reasoning_details"] = details
    return out


def _content(parts: tuple[Part, ...]) -> str | list[Body]:
    text = single_text(parts)
    return text if text is not None else [_part(p) for p in parts if not isinstance(p, ToolResultPart)]


def _part(part: Part) -> Body:
    rendered: Body
    if isinstance(part, TextPart):
        rendered = {"type": "text", "text": part.text}
    elif isinstance(part, ImagePart):
        image: Body = {"url": part.url}
        if part.detail is not None:
            image["detail"] = DETAIL.get(part.detail, part.detail)
        rendered = {"type": "image_url", "image_url": image}
    elif isinstance(part, AudioPart):
        rendered = {"type": "input_audio", "input_audio": {"data": part.data, "format": part.format}}
    elif isinstance(part, VideoPart):  # OpenRouter's video part, for OpenAI-format hosts that take video
        rendered = {"type": "video_url", "video_url": {"url": part.url}}
    elif isinstance(part, FilePart):
        file = {k: v for k, v in (("file_data", part.url), ("file_id", part.file_id), ("filename", part.filename))
                if v is not None}
        rendered = {"type": "file", "file": file}
    elif isinstance(part, RefusalPart):
        rendered = {"type": "refusal", "refusal": part.text}
    else:  # reasoning and tool calls are fields of an assistant message, not content
        rendered = {"type": "text", "text": ""}
    return _cached(rendered, part.cache, part.extensions)


def _tool_call(part: ToolCallPart) -> Body:
    rendered = {"id": part.id, "type": "function", "function": {"name": part.name, "arguments": part.arguments}}
    return _cached(rendered, part.cache, part.extensions)


# ReasoningPart field → OpenRouter's reasoning_details entry type and its payload key
# (https://openrouter.ai/docs/use-cases/reasoning-tokens#reasoning-details-api-shape).
DETAIL_KINDS = (("summary", "reasoning.summary", "summary"), ("encrypted", "reasoning.encrypted", "data"),
                ("text", "reasoning.text", "text"))


def _detail(part: ReasoningPart) -> Body:
    """A reasoning part as the `reasoning_details` entry it came from (or another provider's reasoning)."""
    rendered: Body = {}
    for field, kind, key in DETAIL_KINDS:
        if (value := getattr(part, field)) is not None:
            rendered = {"type": kind, key: value}
            break
    for key in ("signature", "format", "id"):
        if (value := getattr(part, key)) is not None:
            rendered[key] = value
    return _merged(rendered, part.extensions)


def _tooling(request: ChatRequest) -> Body:
    out: Body = {}
    if request.tools:
        out["tools"] = [_tool(t) for t in request.tools]
    if isinstance(choice := request.tool_choice, NamedTool):
        out["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        out["tool_choice"] = choice
    if request.parallel_tool_calls is not None:
        out["parallel_tool_calls"] = request.parallel_tool_calls
    return out


def _tool(tool: Tool) -> Body:
    function = _present({"name": tool.name, "description": tool.description, "parameters": tool.parameters,
                         "strict": tool.strict})
    return _cached({"type": "function", "function": function}, tool.cache, tool.extensions)


def _response_format(output: OutputFormat) -> Body:
    if isinstance(output, JsonSchemaFormat):
        schema = _present({"name": output.name, "description": output.description, "schema": output.schema,
                           "strict": output.strict})
        return _merged({"type": "json_schema", "json_schema": schema}, output.extensions)
    if isinstance(output, GrammarFormat):
        grammar = {"grammar": output.grammar} if output.grammar is not None else {}
        return _merged({"type": output.kind, **grammar}, output.extensions)
    kind = "json_object" if isinstance(output, JsonObjectFormat) else "text"
    return _merged({"type": kind}, output.extensions)


def _present(fields: Mapping[str, Any]) -> Body:
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in fields.items() if v is not None}
