"""OpenAI's reasoning models (the o-series, GPT-5 and later), and every model an OpenAI-format host serves with
`reasoning_effort`: they size their thinking by an effort level only.

A client that gives a thinking budget instead (`reasoning.max_tokens`, Anthropic-style) gets the effort whose
share of the output limit is nearest to it, as OpenRouter does ("For models that only support
reasoning.effort, the max_tokens value will be used to determine the effort level",
https://openrouter.ai/docs/guides/best-practices/reasoning-tokens), through the one effort table.
"""

from __future__ import annotations

from lambdarouter.core.conversation import Reasoning
from lambdarouter.profiles.reasoning import EFFORT_RATIOS

# The efforts OpenAI's `reasoning_effort` takes (https://platform.openai.com/docs/api-reference/chat/create).
EFFORTS = ("minimal", "low", "medium", "high")


def reasoning_effort(reasoning: Reasoning | None, output_limit: int | None) -> str | None:
    """The `reasoning_effort` to send; None: the model's own default (nothing asked, or thinking off)."""
    if reasoning is None or reasoning.enabled is False:
        return None
    if reasoning.effort is not None:
        return reasoning.effort
    if reasoning.budget_tokens is None or not output_limit:
        return None
    share = reasoning.budget_tokens / output_limit
    return min(EFFORTS, key=lambda effort: abs(EFFORT_RATIOS[effort] - share))
