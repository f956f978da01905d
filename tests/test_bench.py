"""Smoke test of the benchmark harness (`python -m bench`) in its smallest mode: it runs and reports.

No timing is asserted: performance is read from `bench/results/latest.json`, never gated here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.imports import top_imports
from bench.stats import percentile, summary
from bench.upstream import completion_body, stream_events

ROOT = Path(__file__).resolve().parent.parent
SUMMARY_KEYS = {"p50", "p90", "p99", "mean", "min", "max", "n"}


def _positive_summary(s: dict[str, Any], n: int) -> None:
    assert s.keys() >= SUMMARY_KEYS
    assert s["n"] == n
    assert all(s[k] > 0 for k in ("p50", "p90", "p99", "mean", "min", "max"))
    assert s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"]


def test_harness_smallest_mode_writes_report(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    argv = [sys.executable, "-m", "bench", "--quick", "--pairs", "20", "--stream-pairs", "5", "--warmup", "5",
            "--stream-warmup", "2", "--import-runs", "2", "--output", str(output)]
    # Its own session, so a hung run can be stopped with the servers it started (they also die with it).
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stderr[-4000:]
    assert "added (gateway - direct)" in stdout

    report = json.loads(output.read_text())
    assert {"schema_version", "date", "machine", "config", "latency", "imports", "targets"} <= report.keys()
    machine = report["machine"]
    assert machine["cpu_model"]
    assert machine["cores"] > 0
    assert machine["python"].count(".") == 2

    latency = report["latency"]
    for section, n in (("non_streamed", 20), ("streamed_ttft", 5)):
        for side in ("direct", "gateway"):
            _positive_summary(latency[section][side], n)
        added = latency[section]["added"]
        assert added.keys() >= SUMMARY_KEYS  # a difference: may be negative on a noisy machine
        assert added["n"] == n

    imports = report["imports"]
    assert imports["runs"] == 2
    assert imports["baseline"]["median_ms"] > 0
    assert imports["functions"]
    for function in imports["functions"]:
        assert function["gross_median_ms"] > 0
        assert function["in_process_median_ms"] > 0
        assert len(function["gross_runs_ms"]) == 2
        assert function["top_imports"]
    assert isinstance(report["targets"]["added_p50_met"], bool)


def test_fake_upstream_bodies_are_openai_shaped() -> None:
    body = json.loads(completion_body())
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]
    events = stream_events(3)
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:4]] == ["tok0 ", "tok1 ", "tok2 "]
    assert chunks[4]["choices"][0]["finish_reason"] == "stop"
    assert chunks[5]["choices"] == []
    assert chunks[5]["usage"]["total_tokens"] > 0


def test_stats_and_importtime_parsing() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    s = summary([0.001, 0.002, 0.003])
    assert (s["p50"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    report = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       100 |        100 |   json.decoder",
        "import time:       200 |        300 | json",
        "import time:      1000 |       5000 | pydantic",
    ])
    assert [row["module"] for row in top_imports(report)] == ["pydantic", "json"]
    assert top_imports(report)[0] == {"module": "pydantic", "cumulative_ms": 5.0, "self_ms": 1.0}
