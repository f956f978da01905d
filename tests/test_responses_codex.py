"""Codex CLI (`@openai/codex`, pinned in tests/clients-responses/) completes a turn through the gateway: with a model
provider whose `base_url` is the test's `lambdarouter serve`, `codex exec` asks a Claude model (Anthropic's API,
translated) or GPT-5 (OpenAI's Responses API, passed through), runs the shell command the model calls for, sends
its output back and prints the answer.

Codex runs offline here: its native binary ships inside the npm package and talks only to its model provider.
It sends OpenAI's built-in `web_search` tool unless told not to; a non-OpenAI model cannot run it (a 400 naming
the tool), so the Claude config turns it off, as the README tells Codex users; GPT-5 gets it. The sandbox is
bypassed because the test's container may not allow the namespaces Codex's bubblewrap sandbox needs; the command
is a harmless echo.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.accounting import ledger
from tests.fakes.upstream import FakeUpstream
from tests.gateway import RunningGateway
from tests.responses_cases import ANTHROPIC, OPENAI, Answer, Upstream
from tests.stores import ledger_rows
from tests.wire_formats import ToolCall

CODEX = Path(__file__).parent / "clients-responses" / "node_modules" / ".bin" / "codex"
CONFIG = """\
model = "{model}"
model_provider = "lambdarouter"
{web_search}

[model_providers.lambdarouter]
name = "lambdarouter"
base_url = "{url}"
env_key = "LAMBDAROUTER_KEY"
wire_api = "responses"
"""

pytestmark = pytest.mark.skipif(not CODEX.exists(),
                                reason="tests/clients-responses is not installed: run ./scripts/test (it runs npm ci)")


@pytest.mark.parametrize(("upstream", "model", "web_search"), [
    # Claude (Anthropic alone serves this id in tests/data/extra-models.toml): OpenAI's web search turned off.
    pytest.param(ANTHROPIC, "anthropic/claude-sonnet-4-0", 'web_search = "disabled"', id="claude-translated"),
    # GPT-5 on OpenAI's Responses API: Codex's request as it sends it, its built-in web search included.
    pytest.param(OPENAI, "openai/gpt-5", "", id="gpt-5-native"),
])
def test_codex_exec_runs_a_command_and_answers(upstream: Upstream, model: str, web_search: str,
                                               gateway: RunningGateway, fake_upstream: FakeUpstream,
                                               tmp_path: Path) -> None:
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(CONFIG.format(model=model, web_search=web_search, url=gateway.url))
    command = ToolCall("call_codex_1", "exec_command", {"cmd": "echo codex-$((6*7))"})
    fake_upstream.reply(upstream.reply(Answer(text="Running it.", call=command), True), path=upstream.path)
    fake_upstream.reply(upstream.reply(Answer(text="The command printed codex-42."), True), path=upstream.path)

    started = int(time.time())  # ledger rows carry whole seconds
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CODEX_HOME": str(home),
           "LAMBDAROUTER_KEY": gateway.key}
    done = subprocess.run([str(CODEX), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                           "-C", str(work), "Compute six times seven with the shell, then tell me the output."],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("The command printed codex-42."), done.stdout

    first, second = (r.json() for r in fake_upstream.iter_requests(upstream.path))
    assert "exec_command" in upstream.tool_names(first)
    assert "codex-42" in upstream.tool_result(second)  # the shell ran the command and Codex sent its output back
    if upstream is OPENAI:  # passed through: Codex's own fields and OpenAI's built-in tool reach OpenAI
        assert {"web_search"} <= {tool["type"] for tool in first["tools"]} and first["store"] is False
        assert "prompt_cache_key" in first and "client_metadata" in first
    rows = [r for r in ledger_rows(ledger(gateway)) if r.model == model and r.created_at >= started]
    assert len(rows) == 2 and all(r.status == "success" and r.streamed for r in rows), rows
