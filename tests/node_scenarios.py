"""A node process answering scenarios for the JS client tests (tests/js/scenarios.mjs,
tests/clients-anthropic/scenarios.mjs): one JSON line in, one JSON line out (`{"ok": ...}` or `{"error": ...}`),
each within a deadline; one process per test module."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SCENARIO_SECONDS = 60


class NodeScenarios:
    def __init__(self, process: subprocess.Popen[str], parse_float: Callable[[str], Any] = float) -> None:
        self.process = process
        self.parse_float = parse_float

    def ask(self, request: dict[str, Any], label: str) -> Any:
        """What the scenario answered, or the test fails with the client's own error (or the missed deadline)."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], SCENARIO_SECONDS)
        line = stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            pytest.fail(f"{label}: no answer from node within {SCENARIO_SECONDS} s")
        answer = json.loads(line, parse_float=self.parse_float)
        if "error" in answer:
            pytest.fail(f"{label} failed:\n{answer['error']}")
        return answer["ok"]


@contextmanager
def node_scenarios(folder: Path, package: str, what: str,
                   parse_float: Callable[[str], Any] = float) -> Iterator[NodeScenarios]:
    """`node scenarios.mjs` in `folder`, whose npm install must hold `package` (skips without node)."""
    found = shutil.which("node")
    if found is None:
        pytest.skip(f"node is not installed: {what} cannot run")
    if not (folder / "node_modules" / package).is_dir():
        pytest.fail(f"tests/{folder.name}/node_modules is missing: ./scripts/test installs it (npm ci)")
    process = subprocess.Popen([found, "scenarios.mjs"], cwd=folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, encoding="utf-8")
    try:
        yield NodeScenarios(process, parse_float)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the loop over stdin ends: node exits by itself
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
