"""Gemini, on every host that serves it (the Gemini API, Vertex AI).

Thinking (https://ai.google.dev/gemini-api/docs/thinking): Gemini 2.x (and older) size thinking with a token
budget, whose range depends on the model ("Set budget": 2.5 Pro 128 to 32768, 2.5 Flash 0 to 24576, 2.5
Flash-Lite 512 to 24576); Gemini 3 and later with a level, taking OpenAI's effort names
(https://ai.google.dev/gemini-api/docs/thinking#thinking-levels). Gemini 3 and later also reject a function
call in history without its thought signature (https://ai.google.dev/gemini-api/docs/thought-signatures).
"""

from __future__ import annotations

import re
from typing import Any

from lambdarouter.core.conversation import Reasoning
from lambdarouter.profiles.reasoning import effort_budget

# Budget-sized models; aliases such as gemini-flash-latest point at the current (3.x) models.
BUDGET_MODELS = re.compile(r"^(models/)?gemini-[12](\.|-|$)")
# The largest budget a 2.x model takes (see above): Pro's, else Flash's and Flash-Lite's.
PRO_MODELS = re.compile(r"^(models/)?gemini-[12](\.\d+)?-pro")
PRO_BUDGET_CEILING, BUDGET_CEILING = 32768, 24576
# Gemini's own output limit when the request sets none (the 2.5 models' maxOutputTokens).
DEFAULT_OUTPUT_LIMIT = 65536
THINKING_LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}


def sizes_thinking_by_budget(upstream_id: str) -> bool:
    return BUDGET_MODELS.match(upstream_id) is not None


def signatures_required(upstream_id: str) -> bool:
    """Gemini 3 and later reject a function call in history without its thought signature."""
    return not sizes_thinking_by_budget(upstream_id)


def thinking_config(reasoning: Reasoning | None, upstream_id: str, output_limit: int | None) -> dict[str, Any] | None:
    """`reasoning` → ThinkingConfig:

    - an explicit budget → thinkingBudget (Gemini 3 still accepts budgets);
    - effort → thinkingLevel on Gemini 3+, the one effort table's budget on Gemini 2.x (bounded by the model);
    - enabled: false → thinkingBudget 0 (off where the model allows it; others answer 400);
    - includeThoughts unless `exclude`: Gemini returns thought summaries only when asked. Without any
      reasoning field nothing is sent: the model thinks by its default and returns no thoughts.
    """
    if reasoning is None:
        return None
    effort, budget = reasoning.effort, reasoning.budget_tokens
    if reasoning.enabled is False and budget is None and effort in (None, "none"):
        return {"thinkingBudget": 0}
    config: dict[str, Any] = {}
    if budget is not None:
        config["thinkingBudget"] = budget
    elif effort is not None and sizes_thinking_by_budget(upstream_id):
        ceiling = PRO_BUDGET_CEILING if PRO_MODELS.match(upstream_id) else BUDGET_CEILING
        config["thinkingBudget"] = effort_budget(effort, output_limit or DEFAULT_OUTPUT_LIMIT, ceiling)
    elif effort is not None:
        # The ThinkingLevel enum's names: MINIMAL, LOW, MEDIUM, HIGH; OpenRouter's xhigh and max ask for HIGH.
        config["thinkingLevel"] = THINKING_LEVELS.get(effort, "HIGH")
    if not reasoning.exclude:
        config["includeThoughts"] = True
    return config
