"""Model profiles: one model family thinks the same way on every host, with one effort → budget table."""

from __future__ import annotations

import pytest

from lambdarouter.core.conversation import Reasoning
from lambdarouter.profiles import claude, gemini, openai
from lambdarouter.profiles.reasoning import effort_budget


@pytest.mark.parametrize(("effort", "limit", "ceiling", "budget"), [
    ("high", 10_000, 128_000, 8_000), ("medium", 64_000, 128_000, 32_000),
    ("high", 200_000, 128_000, 128_000),  # OpenRouter's cap
    ("minimal", 4_000, 128_000, 1_024),  # the floor
    ("high", 65_536, 24_576, 24_576),  # a model whose own range ends lower
    (None, 10_000, 128_000, 5_000),  # `enabled` alone: medium
])
def test_one_effort_table(effort: str | None, limit: int, ceiling: int, budget: int) -> None:
    assert effort_budget(effort, limit, ceiling) == budget


@pytest.mark.parametrize("upstream", ["claude-opus-4-7", "us.anthropic.claude-opus-4-7", "claude-opus-4-7@20260301",
                                      "anthropic.claude-sonnet-5-v1:0"])
def test_claude_is_read_from_every_hosts_ids(upstream: str) -> None:
    assert claude.thinking_style(upstream) == "adaptive_only"
    assert claude.thinking(Reasoning(effort="low"), upstream, 8000) == {
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}


def test_claude_budget_models_on_every_host_get_the_same_budget() -> None:
    for upstream in ("claude-sonnet-4-5-20250929", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                     "claude-sonnet-4-5@20250929"):
        assert claude.thinking(Reasoning(effort="high"), upstream, 10_000) == {
            "thinking": {"type": "enabled", "budget_tokens": 8_000}}


def test_gemini_budgets_are_bounded_by_the_model() -> None:
    high = Reasoning(effort="high")
    assert gemini.thinking_config(high, "gemini-2.5-pro", 65_536) == {"thinkingBudget": 32_768, "includeThoughts": True}
    assert gemini.thinking_config(high, "gemini-2.5-flash", 65_536) == {"thinkingBudget": 24_576,
                                                                          "includeThoughts": True}
    assert gemini.thinking_config(high, "gemini-3-pro-preview", None) == {"thinkingLevel": "HIGH",
                                                                            "includeThoughts": True}
    assert gemini.signatures_required("gemini-3-flash") and not gemini.signatures_required("gemini-2.5-flash")


@pytest.mark.parametrize(("reasoning", "limit", "effort"), [
    (Reasoning(effort="low"), None, "low"),
    (Reasoning(budget_tokens=8_000), 10_000, "high"),  # 80 % of the output limit
    (Reasoning(budget_tokens=2_000), 10_000, "low"),
    (Reasoning(budget_tokens=2_000), None, None),  # no limit to size it against: the model's default
    (Reasoning(enabled=True), 10_000, None),
    (Reasoning(effort="high", enabled=False), 10_000, None),
])
def test_effort_only_models_get_the_nearest_effort(reasoning: Reasoning, limit: int | None, effort: str | None) -> None:
    assert openai.reasoning_effort(reasoning, limit) == effort
