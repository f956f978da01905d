"""Smoke test of the failover benchmark (no timing assertions: figures are the harness's business)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_failover_bench_runs_and_reports(tmp_path: Path) -> None:
    output = tmp_path / "failover.json"
    subprocess.run([sys.executable, "-m", "bench.failover", "--requests", "5", "--warmup", "1", "--output",
                    str(output)], cwd=ROOT, check=True, timeout=120, capture_output=True)
    result = json.loads(output.read_text())
    assert result["requests"] == 5
    for name in ("failover_added_ms", "failed_attempt_own_ms", "failover_overhead_ms"):
        assert set(result[name]) == {"p50", "p99"}
