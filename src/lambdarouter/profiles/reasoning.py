"""The one effort → thinking-budget table, for every model that sizes its thinking in tokens.

OpenRouter's rule (https://openrouter.ai/docs/guides/best-practices/reasoning-tokens, "Reasoning Effort
Level"): `budget_tokens = max(min(max_tokens * effort_ratio, 128000), 1024)`, with effort_ratio 0.95 for
xhigh, 0.8 for high, 0.5 for medium, 0.2 for low and 0.1 for minimal; `enabled` alone means medium. A model
whose own budget range ends lower (Gemini 2.5 Flash: 24576) passes its ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping

EFFORT_RATIOS: Mapping[str, float] = {"minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8, "xhigh": 0.95,
                                      "max": 0.95}
DEFAULT_EFFORT = "medium"
MIN_BUDGET = 1024
MAX_BUDGET = 128_000


def effort_budget(effort: str | None, output_limit: int, ceiling: int = MAX_BUDGET) -> int:
    """The thinking budget for `effort` when the answer may be `output_limit` tokens long."""
    ratio = EFFORT_RATIOS[effort or DEFAULT_EFFORT]
    return max(min(int(output_limit * ratio), MAX_BUDGET, ceiling), MIN_BUDGET)
