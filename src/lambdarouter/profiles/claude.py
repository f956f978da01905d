"""Claude, on every host that serves it (Anthropic's API, Bedrock, Vertex AI).

Thinking (https://platform.claude.com/docs/en/build-with-claude/extended-thinking and .../adaptive-thinking;
Bedrock: https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html):
- budget models take `thinking: {type: enabled, budget_tokens}` with 1024 ≤ budget < max_tokens;
- from the 4.6 models on, `thinking: {type: adaptive}` with `output_config.effort`; `enabled` + a budget is
  deprecated there but still accepted, so an explicit budget is honoured;
- Opus 4.7 and every Claude 5 model take adaptive thinking only: `enabled` and `disabled` are a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from lambdarouter.core.conversation import Reasoning
from lambdarouter.core.errors import bad_request
from lambdarouter.profiles.reasoning import MIN_BUDGET, effort_budget

# The output limit when neither the client nor the catalog names one (max_tokens is required by Anthropic).
DEFAULT_MAX_TOKENS = 4096
# https://platform.claude.com/docs/en/api/messages: temperature "Ranges from 0.0 to 1.0" (OpenAI allows 2).
TEMPERATURE_RANGE = (0.0, 1.0)

ThinkingStyle = Literal["budget", "adaptive", "adaptive_only"]
ADAPTIVE_FROM = (4, 6)
ADAPTIVE_ONLY_FROM: Mapping[str, tuple[int, int]] = {"opus": (4, 7), "*": (5, 0)}
# claude-<family>-<major>[-<minor>]: Anthropic's ids, Bedrock's (`us.anthropic.claude-opus-4-7`) and Vertex
# AI's (`claude-opus-4-5@20251101`) alike.
_MODEL_VERSION = re.compile(r"claude-([a-z]+)-(\d+)(?:-(\d))?(?=[-@:]|$)")
# Adaptive thinking's `output_config.effort` (low / medium / high / xhigh / max); OpenAI's "minimal" has no
# Anthropic counterpart, its nearest is "low" (https://platform.claude.com/docs/en/build-with-claude/effort).
ADAPTIVE_EFFORT: Mapping[str, str] = {"minimal": "low", "low": "low", "medium": "medium", "high": "high",
                                      "xhigh": "xhigh", "max": "max"}
# The effort levels each model takes beyond low / medium / high (OpenRouter's parameter guide, "Verbosity": xhigh
# from Claude Opus 4.7, max from Opus 4.6); a level a model lacks is asked as "high".
TOP_EFFORTS_FROM: Mapping[str, tuple[int, int]] = {"xhigh": (4, 7), "max": (4, 6)}


def is_claude(upstream_id: str) -> bool:
    return "claude" in upstream_id


def thinking_style(upstream_id: str) -> ThinkingStyle:
    match = _MODEL_VERSION.search(upstream_id)
    if match is None:  # older naming (claude-3-7-sonnet-…) or a custom deployment name: the classic API
        return "budget"
    family, version = match[1], (int(match[2]), int(match[3] or 0))
    if version >= min(ADAPTIVE_ONLY_FROM.get(family, ADAPTIVE_ONLY_FROM["*"]), ADAPTIVE_ONLY_FROM["*"]):
        return "adaptive_only"
    return "adaptive" if version >= ADAPTIVE_FROM else "budget"


def thinking(reasoning: Reasoning | None, upstream_id: str, max_tokens: int) -> dict[str, Any]:
    """The Anthropic Messages fields (`thinking`, `output_config`) that ask this model for what the client
    asked; {} when it asked nothing. `max_tokens` is what the request sends."""
    if reasoning is None:
        return {}
    style = thinking_style(upstream_id)
    if reasoning.enabled is False or reasoning.effort == "none":
        # Thinking is off by default; adaptive-only models refuse an explicit `disabled`.
        return {} if style == "adaptive_only" else {"thinking": {"type": "disabled"}}
    effort, budget = reasoning.effort, reasoning.budget_tokens
    # OpenRouter: `enabled` defaults to true when an effort or a budget is given.
    if not (effort is not None or budget is not None or reasoning.enabled):
        return {}
    if style == "adaptive_only" or (style == "adaptive" and budget is None):
        # An explicit budget cannot be honoured on adaptive-only models: the model sizes its thinking.
        out: dict[str, Any] = {"thinking": {"type": "adaptive"}}
        if effort is not None:
            out["output_config"] = {"effort": output_effort(effort, upstream_id)}
        return out
    return {"thinking": {"type": "enabled", "budget_tokens": _budget(budget, effort, max_tokens)}}


def output_effort(level: str, upstream_id: str) -> str:
    """An effort (or OpenRouter's `verbosity`) as this model's `output_config.effort`."""
    effort = ADAPTIVE_EFFORT[level]
    needed = TOP_EFFORTS_FROM.get(effort)
    return effort if needed is None or _takes_top_effort(upstream_id, needed) else "high"


def _takes_top_effort(upstream_id: str, since: tuple[int, int]) -> bool:
    match = _MODEL_VERSION.search(upstream_id)
    if match is None:
        return False
    version = (int(match[2]), int(match[3] or 0))
    return version >= (5, 0) or (match[1] == "opus" and version >= since)


def add_verbosity(fields: dict[str, Any], level: str | None, upstream_id: str) -> None:
    """OpenRouter's `verbosity` → `output_config.effort` in `fields` (its parameter guide: "For Anthropic models,
    this parameter maps to output_config.effort"), on the models that take an effort (adaptive thinking, 4.6
    on; older models have no such control). An effort the reasoning options already set wins."""
    if level is not None and thinking_style(upstream_id) != "budget":
        fields.setdefault("output_config", {}).setdefault("effort", output_effort(level, upstream_id))


def _budget(budget: int | None, effort: str | None, max_tokens: int) -> int:
    if budget is None:
        budget = effort_budget(effort, max_tokens)
    if budget < MIN_BUDGET:
        raise bad_request(f"Claude's thinking budget must be at least {MIN_BUDGET} tokens (got {budget}).",
                          param="reasoning.max_tokens")
    if budget >= max_tokens:
        raise bad_request(f"max_tokens ({max_tokens}) must be greater than the reasoning budget ({budget} tokens): "
                          "Claude's thinking budget is part of its output. Raise max_tokens or lower "
                          "reasoning.max_tokens.", param="reasoning.max_tokens")
    return budget


def check_temperature(temperature: float) -> None:
    low, high = TEMPERATURE_RANGE
    if not low <= temperature <= high:
        raise bad_request(f"temperature must be between {low} and {high} for Claude models (got {temperature}).",
                          param="temperature")
