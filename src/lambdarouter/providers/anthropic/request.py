"""Canonical request → Anthropic Messages request body (https://platform.claude.com/docs/en/api/messages).

Messages, content parts and tools are in `messages`; this module decides the top-level fields:
`max_tokens` (required by Anthropic), sampling, tools and `tool_choice`, thinking and structured output.
Options the endpoint does not support never get here (`UpstreamCall` drops them); values outside
Anthropic's documented ranges are a 400, never clamped.
"""

from __future__ import annotations

from typing import Any

from lambdarouter.core.conversation import ChatRequest, JsonSchemaFormat, NamedTool, Tool
from lambdarouter.core.errors import bad_request
from lambdarouter.profiles import claude
from lambdarouter.providers.anthropic.messages import cache_control, tool_names_used, translate_messages
from lambdarouter.providers.base import UpstreamCall


def build_body(call: UpstreamCall) -> dict[str, Any]:
    request = call.request
    system, messages = translate_messages(request.messages)
    if not messages:
        raise bad_request("Anthropic needs at least one user or assistant message besides the system prompt.")
    # `max_tokens` is required by Anthropic: without a client value, the endpoint's documented maximum output
    # (the catalog's `max_output_tokens`), else the Claude profile's default.
    max_tokens = request.max_output_tokens or call.endpoint.max_output_tokens or claude.DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {"model": call.endpoint.upstream_id, "max_tokens": max_tokens, "messages": messages}
    if system is not None:
        body["system"] = system
    body.update(_sampling(request))
    body.update(_tools(request, messages))
    body.update(_thinking(request, call.endpoint.upstream_id, max_tokens))
    claude.add_verbosity(body, request.verbosity, call.endpoint.upstream_id)
    if request.cache is not None:
        # Automatic caching: Anthropic puts the breakpoint on the last cacheable block itself
        # (https://platform.claude.com/docs/en/build-with-claude/prompt-caching, "Automatic caching").
        body["cache_control"] = cache_control(request.cache)
    if isinstance(request.output, JsonSchemaFormat):
        body.setdefault("output_config", {})["format"] = _output_format(request.output)
    if request.user:
        # OpenAI's end-user id is Anthropic's metadata.user_id (an opaque id for abuse detection).
        body["metadata"] = {"user_id": request.user}
    body["stream"] = call.stream
    return body


def _sampling(request: ChatRequest) -> dict[str, Any]:
    sampling = request.sampling
    out: dict[str, Any] = {}
    if sampling.temperature is not None:
        claude.check_temperature(sampling.temperature)
        out["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        out["top_p"] = sampling.top_p
    if sampling.top_k is not None:
        out["top_k"] = sampling.top_k
    if request.stop:
        if any(not s.strip() for s in request.stop):
            # Anthropic rejects stop sequences made only of whitespace.
            raise bad_request("Anthropic stop sequences must contain a non-whitespace character.", param="stop")
        out["stop_sequences"] = list(request.stop)
    return out


def _tools(request: ChatRequest, messages: list[dict[str, Any]]) -> dict[str, Any]:
    if request.tools:
        out: dict[str, Any] = {"tools": [_tool(t) for t in request.tools]}
        choice = _tool_choice(request)
        if choice is not None:
            out["tool_choice"] = choice
        return out
    used = tool_names_used(messages)
    if not used:
        return {}
    # Anthropic answers 400 "Requests which include `tool_use` or `tool_result` blocks must define tools"
    # (anthropics/anthropic-sdk-python#494)
    # when the history has tool calls but the request no tools (an OpenAI client may drop them for a
    # final turn). Declare the tools the history used, with an open schema, and forbid new calls.
    synthesized = [{"name": name, "description": "Used earlier in this conversation.",
                    "input_schema": {"type": "object"}} for name in used]
    return {"tools": synthesized, "tool_choice": {"type": "none"}}


def _tool(tool: Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name,
                           "input_schema": tool.parameters or {"type": "object", "properties": {}}}
    if tool.description:
        out["description"] = tool.description
    if tool.strict:
        out["strict"] = True  # strict tool use (structured outputs) is Anthropic's counterpart
    if tool.cache is not None:
        out["cache_control"] = cache_control(tool.cache)  # prompt caching on the tool definitions
    return out


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    out: dict[str, Any] | None
    if isinstance(choice, NamedTool):
        out = {"type": "tool", "name": choice.name}
    elif choice is None:
        out = None
    else:  # OpenAI's "required" is Anthropic's "any"
        out = {"type": {"auto": "auto", "none": "none", "required": "any"}[choice]}
    if request.parallel_tool_calls is False and (out is None or out["type"] != "none"):
        out = {"type": "auto"} if out is None else out
        out["disable_parallel_tool_use"] = True
    return out


def _thinking(request: ChatRequest, upstream_id: str, max_tokens: int) -> dict[str, Any]:
    """The Claude profile's thinking; `exclude` (the model still thinks, the client does not see it) also asks
    Anthropic's API to return the thinking blocks empty, signed only (`display: omitted`)."""
    out = claude.thinking(request.reasoning, upstream_id, max_tokens)
    thinking = out.get("thinking")
    if request.reasoning is not None and request.reasoning.exclude and thinking and thinking["type"] != "disabled":
        thinking["display"] = "omitted"
    return out


def _output_format(output: JsonSchemaFormat) -> dict[str, Any]:
    """Native structured outputs in their GA form, `output_config.format` with no beta header
    (https://platform.claude.com/docs/en/build-with-claude/structured-outputs: the beta `output_format` and
    `structured-outputs-2025-11-13` header only keep working for a transition period).

    json_object has no Anthropic counterpart (JSON outputs need a schema whose objects are closed), so
    nothing is sent: as with OpenAI's json_object, the prompt itself must ask for JSON.
    """
    if output.schema is None:
        raise bad_request("response_format.json_schema.schema is required for Anthropic models.",
                          param="response_format")
    return {"type": "json_schema", "schema": dict(output.schema)}
