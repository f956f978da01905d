"""OpenAI's reasoning models (the o-series, GPT-5 and later), and every model an OpenAI-format host serves with
`reasoning_effort`: they size their thinking by an effort level only.

A client that gives a thinking budget instead (`reasoning.max_tokens`, Anthropic-style) gets the effort whose
share of the output limit is nearest to it, as OpenRouter does ("For models that only support
reasoning.effort, the max_tokens value will be used to determine the effort level",
https://openrouter.ai/docs/guides/best-practices/reasoning-tokens), through the one effort table.
"""

from __future__ import annotations

from collections.abc import Mapping

from lambdarouter.core.conversation import Reasoning
from lambdarouter.profiles.reasoning import EFFORT_RATIOS

# The efforts a thinking budget maps to (every reasoning model takes them,
# https://platform.openai.com/docs/api-reference/chat/create), and OpenRouter's levels OpenAI lacks as the
# nearest it has (reasoning_effort goes from "none" to "xhigh").
EFFORTS = ("minimal", "low", "medium", "high")
NEAREST: Mapping[str, str] = {"max": "xhigh"}


def reasoning_effort(reasoning: Reasoning | None, output_limit: int | None) -> str | None:
    """The `reasoning_effort` to send; None: the model's own default (nothing asked, or thinking off).
    "none" (no reasoning, where the model can stop) is said as OpenAI says it."""
    if reasoning is None:
        return None
    if reasoning.effort == "none":
        return "none"
    if reasoning.enabled is False:
        return None
    if reasoning.effort is not None:
        return NEAREST.get(reasoning.effort, reasoning.effort)
    if reasoning.budget_tokens is None or not output_limit:
        return None
    share = reasoning.budget_tokens / output_limit
    return min(EFFORTS, key=lambda effort: abs(EFFORT_RATIOS[effort] - share))
