"""Canonical request → Anthropic Messages request body (https://platform.claude.com/docs/en/api/messages).

Messages, content parts and tools are in `messages`; this module decides the top-level fields:
`max_tokens` (required by Anthropic), sampling, tools and `tool_choice`, thinking and structured output.
Options the endpoint does not support never get here (`UpstreamCall` drops them); values outside
Anthropic's documented ranges are a 400, never clamped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from lambdarouter.core.conversation import ChatRequest, JsonSchemaFormat, NamedTool, Tool
from lambdarouter.core.errors import bad_request
from lambdarouter.providers.anthropic.messages import cache_control, tool_names_used, translate_messages
from lambdarouter.providers.base import UpstreamCall

# `max_tokens` is required by Anthropic. Without a client value the endpoint's documented maximum output
# is used (the catalog's `max_output_tokens`); an endpoint without one gets this conservative default.
DEFAULT_MAX_TOKENS = 4096

# https://platform.claude.com/docs/en/api/messages: temperature "Ranges from 0.0 to 1.0" (OpenAI allows 2).
TEMPERATURE_RANGE = (0.0, 1.0)

# Manual extended thinking (https://platform.claude.com/docs/en/build-with-claude/extended-thinking):
# budget_tokens must be ≥ 1024 and below max_tokens.
MIN_THINKING_BUDGET = 1024
# OpenRouter's effort → budget rule for budget-only models
# (https://openrouter.ai/docs/use-cases/reasoning-tokens, "Reasoning Effort Level"):
# budget_tokens = max(min(max_tokens * ratio, 128000), 1024).
EFFORT_BUDGET_RATIOS: Mapping[str, float] = {"minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8}
MAX_EFFORT_BUDGET = 128_000
# Adaptive thinking takes `output_config.effort` (low / medium / high / xhigh / max); OpenAI's "minimal"
# has no Anthropic counterpart, its nearest is "low" (https://platform.claude.com/docs/en/build-with-claude/effort).
ADAPTIVE_EFFORT: Mapping[str, str] = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}

ThinkingStyle = Literal["budget", "adaptive", "adaptive_only"]
# Which thinking API a model takes, by upstream id (https://platform.claude.com/docs/en/build-with-claude/thinking
# and .../adaptive-thinking): adaptive thinking arrived with the 4.6 models, where `type: enabled` +
# budget_tokens is deprecated but still accepted; Opus 4.7 and later and every Claude 5 model reject it (400).
ADAPTIVE_FROM = (4, 6)
ADAPTIVE_ONLY_FROM: Mapping[str, tuple[int, int]] = {"opus": (4, 7), "*": (5, 0)}
_MODEL_VERSION = re.compile(r"^claude-([a-z]+)-(\d+)(?:-(\d))?(?=-|$)")


def thinking_style(upstream_id: str) -> ThinkingStyle:
    match = _MODEL_VERSION.match(upstream_id)
    if match is None:  # older naming (claude-3-7-sonnet-…) or a custom deployment name: the classic API
        return "budget"
    family, version = match[1], (int(match[2]), int(match[3] or 0))
    if version >= min(ADAPTIVE_ONLY_FROM.get(family, ADAPTIVE_ONLY_FROM["*"]), ADAPTIVE_ONLY_FROM["*"]):
        return "adaptive_only"
    return "adaptive" if version >= ADAPTIVE_FROM else "budget"


def build_body(call: UpstreamCall) -> dict[str, Any]:
    request = call.request
    system, messages = translate_messages(request.messages)
    if not messages:
        raise bad_request("Anthropic needs at least one user or assistant message besides the system prompt.")
    max_tokens = request.max_output_tokens or call.endpoint.max_output_tokens or DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {"model": call.endpoint.upstream_id, "max_tokens": max_tokens, "messages": messages}
    if system is not None:
        body["system"] = system
    body.update(_sampling(request))
    body.update(_tools(request, messages))
    body.update(_thinking(request, call.endpoint.upstream_id, max_tokens))
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
        low, high = TEMPERATURE_RANGE
        if not low <= sampling.temperature <= high:
            raise bad_request(f"temperature must be between {low} and {high} for Anthropic models "
                              f"(got {sampling.temperature}).", param="temperature")
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
    config = request.reasoning
    if config is None:
        return {}
    if config.enabled is False:
        return {"thinking": {"type": "disabled"}}
    effort, budget = config.effort, config.budget_tokens
    # OpenRouter: `enabled` defaults to true when an effort or a budget is given.
    if not (effort is not None or budget is not None or config.enabled):
        return {}
    style = thinking_style(upstream_id)
    if style == "adaptive_only" or (style == "adaptive" and budget is None):
        # An explicit budget cannot be honoured on adaptive-only models: the model sizes its thinking.
        thinking: dict[str, Any] = {"type": "adaptive"}
        out: dict[str, Any] = {"thinking": thinking}
        if effort is not None:
            out["output_config"] = {"effort": ADAPTIVE_EFFORT[effort]}
    else:
        thinking = {"type": "enabled", "budget_tokens": _budget(budget, effort, max_tokens)}
        out = {"thinking": thinking}
    if config.exclude:
        # `exclude`: the model still thinks; Anthropic returns the thinking blocks empty, signed only.
        thinking["display"] = "omitted"
    return out


def _budget(budget: int | None, effort: str | None, max_tokens: int) -> int:
    if budget is None:
        ratio = EFFORT_BUDGET_RATIOS[effort or "medium"]
        budget = max(min(int(max_tokens * ratio), MAX_EFFORT_BUDGET), MIN_THINKING_BUDGET)
    if not MIN_THINKING_BUDGET <= budget < max_tokens:
        raise bad_request(
            f"Anthropic's thinking budget must be at least {MIN_THINKING_BUDGET} tokens and below max_tokens "
            f"({max_tokens}); got {budget}. Raise max_tokens or lower reasoning.max_tokens.",
            param="reasoning.max_tokens",
        )
    return budget


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
