"""Claude Code (`@anthropic-ai/claude-code`, the real binary from npm) through a local `lambdarouter serve`.

`claude -p … --output-format json` runs headless with `ANTHROPIC_BASE_URL` at the gateway and a gateway key as
its API key, every non-essential connection switched off (no telemetry, error reporting or update checks: the
run needs no network but loopback). The model's side is a fake Anthropic API (tests/fakes/anthropic_agent.py)
that asks for Claude Code's Read tool and then quotes what the tool returned: the turn completes only if Claude
Code ran its tool and sent the result back through the gateway. Installed by ./scripts/test (`npm ci` in
tests/clients-anthropic/, pinned by its package-lock.json).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.accounting import wait_for_records
from tests.fakes.anthropic_agent import ANSWER_PREFIX, AgentScript, agent_upstream
from tests.gateway import UPSTREAM_KEY, RunningGateway, running_gateway

CLIENTS = Path(__file__).parent / "clients-anthropic"
NOTE = "The launch code is 0451.\n"
# Claude Code's switches for a run that must not leave the machine
# (https://docs.claude.com/en/docs/claude-code/settings#environment-variables).
OFFLINE = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
           "DISABLE_AUTOUPDATER": "1", "DISABLE_BUG_COMMAND": "1", "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1"}


def claude_binary() -> Path:
    """The native binary: the wrapper package's (its postinstall copies it there) or the platform package's."""
    modules = CLIENTS / "node_modules" / "@anthropic-ai"
    candidates = [modules / "claude-code" / "bin" / "claude.exe", *sorted(modules.glob("claude-code-*/claude"))]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK) and candidate.stat().st_size > 1_000_000:
            return candidate
    pytest.fail("Claude Code is not installed: ./scripts/test installs it (npm ci in tests/clients-anthropic)")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "note.txt").write_text(NOTE)
    return project


@pytest.fixture
def agent(workspace: Path, tmp_path: Path) -> Iterator[tuple[AgentScript, RunningGateway]]:
    script = AgentScript("Read", {"file_path": str(workspace / "note.txt")})
    with agent_upstream(script) as upstream, running_gateway(tmp_path / "gateway", upstream) as gateway:
        yield script, gateway


def run_claude(gateway: RunningGateway, workspace: Path, home: Path, prompt: str,
               model: str = "claude-opus-5-5") -> dict[str, Any]:
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "dumb",
           # The gateway's root: Claude Code appends /v1/messages (and ?beta=true) itself.
           "ANTHROPIC_BASE_URL": gateway.url.removesuffix("/api/v1"), "ANTHROPIC_API_KEY": gateway.key, **OFFLINE}
    done = subprocess.run([str(claude_binary()), "-p", prompt, "--output-format", "json", "--allowedTools", "Read",
                           "--model", model],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"claude exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_claude_code_runs_a_tool_and_answers_through_the_gateway(
        agent: tuple[AgentScript, RunningGateway], workspace: Path, tmp_path: Path) -> None:
    script, gateway = agent
    result = run_claude(gateway, workspace, tmp_path / "home", "What does note.txt say?")
    assert result["is_error"] is False and result["subtype"] == "success", result
    assert result["result"].startswith(ANSWER_PREFIX) and NOTE.strip() in result["result"]
    assert result["num_turns"] >= 2

    turns = [r for r in script.requests if r["path"].startswith("/v1/messages") and "count_tokens" not in r["path"]]
    with_tool = [r for r in turns if any(t.get("name") == "Read" for t in r["body"].get("tools") or ())]
    assert len(with_tool) >= 2, [r["path"] for r in turns]
    first, second = with_tool[0], with_tool[-1]
    # Claude Code's own request reached the model's API as it sent it: its betas, its system turns and tools.
    assert first["headers"]["x-api-key"] == UPSTREAM_KEY
    assert "claude-code-20250219" in first["headers"]["anthropic-beta"]
    assert first["body"]["model"] == "claude-opus-5-5"
    results = [b for m in second["body"]["messages"] if m["role"] == "user" and isinstance(m["content"], list)
               for b in m["content"] if b.get("type") == "tool_result"]
    assert results and results[-1]["tool_use_id"] == "toolu_fake_1"

    # Each model call of the turn is one ledger row of the gateway key, charged at the catalog's Opus 5.5 prices.
    records = wait_for_records(gateway, _key_hash(gateway), len(turns))
    assert len(records) == len(turns)
    assert all(r.status == "success" and r.model == "anthropic/claude-opus-5.5" for r in records)
    assert all(r.cost == 100 * Decimal("0.000004") + 20 * Decimal("0.00002") for r in records)


def _key_hash(gateway: RunningGateway) -> str:
    from lambdarouter.store import hash_key

    return hash_key(gateway.key)


def test_claude_code_on_gpt_through_the_gateway(agent: tuple[AgentScript, RunningGateway], workspace: Path,
                                                tmp_path: Path) -> None:
    """`--model openai/gpt-4o`: Claude Code's requests (system turns inside messages, adaptive thinking, its
    betas and tools) translated to OpenAI's Chat Completions and the answers back to Messages."""
    script, gateway = agent
    result = run_claude(gateway, workspace, tmp_path / "home", "What does note.txt say?", model="openai/gpt-4o")
    assert result["is_error"] is False and NOTE.strip() in result["result"], result
    turns = [r for r in script.requests if r["path"].startswith("/v1/chat/completions")]
    with_tool = [r for r in turns if any(t["function"]["name"] == "Read" for t in r["body"].get("tools") or ())]
    assert len(with_tool) >= 2
    last = with_tool[-1]["body"]["messages"]
    assert last[0]["role"] == "system" and last[-1]["role"] == "tool" and last[-1]["tool_call_id"] == "call_fake_1"
    assert with_tool[0]["body"]["max_completion_tokens"] <= 16384  # Claude-sized max_tokens within GPT-4o's cap
    records = wait_for_records(gateway, _key_hash(gateway), len(turns))
    assert {r.model for r in records} == {"openai/gpt-4o"} and all(r.status == "success" for r in records)
