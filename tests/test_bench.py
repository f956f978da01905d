"""Smoke test of the benchmark harness (`python -m bench`) in its smallest mode: it runs and reports.

No timing is asserted: performance is read from `bench/results/latest.json`, never gated here. LiteLLM
(a PyPI install) and the layer build (PyPI downloads) are skipped; their pieces that need no network are
tested on their own below.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from bench import cost, layer, litellm_proxy, report, report_cost
from bench.coldstart import heaviest_modules, imported_by_package, top_imports
from bench.cost_probe import item_size
from bench.procs import cpu_seconds, rss_bytes
from bench.repeats import median_of
from bench.stats import percentile, summary
from bench.upstream import completion_body, stream_events

ROOT = Path(__file__).resolve().parent.parent
SUMMARY_KEYS = {"p50", "p90", "p99", "mean", "min", "max", "n"}


def _positive_summary(s: dict[str, Any], n: int) -> None:
    assert s.keys() >= SUMMARY_KEYS
    assert s["n"] == n
    assert all(s[k] > 0 for k in ("p50", "p90", "p99", "mean", "min", "max"))
    assert s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"]


def _added(s: dict[str, Any], n: int) -> None:
    assert s.keys() >= SUMMARY_KEYS  # a difference: may be negative on a noisy machine
    assert s["n"] == n


@pytest.fixture(scope="module")
def smallest_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    output = tmp_path_factory.mktemp("bench") / "bench.json"
    argv = [sys.executable, "-m", "bench", "--quick", "--no-litellm", "--no-portkey", "--skip", "layer",
            "--pairs", "20", "--warmup", "5", "--stream-pairs", "5", "--stream-warmup", "2",
            "--concurrency", "4", "--concurrent-pairs", "16", "--concurrent-warmup", "4",
            "--throughput-concurrency", "2,4", "--throughput-requests", "400", "--stream-throughput-requests", "40",
            "--repeats", "2", "--memory-checkpoints", "10,30",
            "--memory-concurrency", "2", "--memory-stream-every", "5", "--cold-runs", "2", "--coldstart-from", "venv",
            "--no-coldstart-aws",
            "--cost-requests", "10",
            "--profile-requests", "20", "--profile-streamed", "--profile-concurrency", "2", "--output", str(output)]
    # Its own session, so a hung run can be stopped with the servers it started (they also die with it).
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stderr[-4000:]
    return json.loads(output.read_text()), stdout


def test_report_has_every_section(smallest_run: tuple[dict[str, Any], str]) -> None:
    result, stdout = smallest_run
    assert "added latency, non-streamed, concurrency 1" in stdout
    assert "targets:" in stdout
    assert {"schema_version", "date", "machine", "config", "method", "direct", "gateway", "litellm", "portkey",
            "coldstart", "cost", "profile", "targets"} <= result.keys()
    assert result["litellm"] == {"skipped": "--no-litellm"}
    assert result["portkey"] == {"skipped": "--no-portkey"}
    assert result["gateway"]["repeats"] == 2  # two rounds, merged into medians
    machine = result["machine"]
    assert machine["cpu_model"]
    assert machine["cores"] > 0
    assert machine["python"].count(".") == 2


def test_latency_sections(smallest_run: tuple[dict[str, Any], str]) -> None:
    gateway = smallest_run[0]["gateway"]
    for side in ("direct", "through"):
        _positive_summary(gateway["c1"][side], 20)
        _positive_summary(gateway["c1_streamed"]["ttft"][side], 5)
        _positive_summary(gateway["c4"][side], 16)
    _added(gateway["c1"]["added"], 20)
    _added(gateway["c1_streamed"]["ttft"]["added"], 5)
    _added(gateway["c1_streamed"]["inter_chunk"]["added"], 5)
    _added(gateway["c4"]["added"], 16)
    assert gateway["c4"]["concurrency"] == 4
    assert gateway["c1_streamed"]["content_chunks"] == 16


def test_throughput_and_memory_sections(smallest_run: tuple[dict[str, Any], str]) -> None:
    result = smallest_run[0]
    for side in (result["direct"], result["gateway"]):
        rows = side["throughput"]
        assert [(row["concurrency"], row["streamed"]) for row in rows] == [(2, False), (4, False), (2, True)]
        for row in rows:
            assert row["requests"] == (40 if row["streamed"] else 400)
            assert row["errors"] == 0
            assert row["rps"] > 0
            _positive_summary(row["latency"], row["requests"])
            assert isinstance(row["p99_under_limit"], bool)
    # CPU time is read in clock ticks (10 ms): 400 requests at ~0.5 ms each span many ticks (20 did not).
    assert result["gateway"]["throughput"][0]["server_cpu_ms_per_request"] > 0
    memory = result["gateway"]["memory"]
    assert [p["requests"] for p in memory["checkpoints"]] == [10, 30]
    assert all(p["rss_mb"] > 0 for p in memory["checkpoints"])
    assert isinstance(memory["growth_mb"], float)
    assert memory["errors"] == 0


def test_coldstart_cost_and_profile_sections(smallest_run: tuple[dict[str, Any], str]) -> None:
    result = smallest_run[0]
    probes = result["coldstart"]["probes"]
    assert {p["name"] for p in probes} >= {"chat_completions", "models"}
    for probe in probes:
        assert probe["kind"] == "entry"
        assert len(probe["cold_start_runs_ms"]) == 2
        assert probe["cold_start_median_ms"] >= probe["import_median_ms"] > 0
        assert probe["first_request_median_ms"] > 0
        assert probe["cold_start_without_pyc_median_ms"] > 0
        assert probe["top_imports"]
    model = result["cost"]
    assert model["memory_mb"] == cost.template_memory_mb()
    assert model["gateway_time_per_request"]["non_streamed"]["wall_ms"]["n"] == 10
    scenarios = model["dynamodb"]["scenarios"]
    assert scenarios["no limits"]["write_units"] > 0
    assert scenarios["no limits"]["read_units"] > 0
    assert "TransactWriteItems" in scenarios["no limits"]["operations"]
    # Before the first upstream byte: the key check alone; a credit limit adds its reservation.
    assert scenarios["no limits"]["first_byte"]["operations"] == ["GetItem"]
    assert scenarios["credit limit"]["first_byte"]["operations"] == ["GetItem", "UpdateItem"]
    assert scenarios["no limits, streamed"]["first_byte"]["round_trips"] == 1
    assert all(s["first_byte"]["ms"] > 0 for s in scenarios.values())
    assert "before the first upstream byte" in report_cost.markdown_cost(result)
    for row in model["per_million_requests"].values():
        assert row["usd_total"] > 0
    assert model["idle_per_month"]["lambda"]["usd"] == 0.0
    prof = result["profile"]
    assert prof["requests"] == 20
    assert "concurrency 2, streamed" in prof["method"]  # --profile-streamed, --profile-concurrency
    assert prof["busy_ms_per_request"] > 0
    assert prof["by_component"] and prof["top_functions"]
    names = {t["target"] for t in result["targets"]}
    assert any(name.startswith("added latency, non-streamed, p50") for name in names)
    assert all(t["met"] in (True, False, None) for t in result["targets"])


# -- the pieces, without servers ----------------------------------------------------------------------------


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
    text = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       100 |        100 |   json.decoder",
        "import time:       200 |        300 | json",
        "import time:      1000 |       5000 | pydantic",
    ])
    assert [row["module"] for row in top_imports(text)] == ["pydantic", "json"]
    assert top_imports(text)[0] == {"module": "pydantic", "cumulative_ms": 5.0, "self_ms": 1.0}
    assert heaviest_modules(text)[0]["module"] == "pydantic"
    assert imported_by_package(text)[:2] == [{"package": "pydantic", "self_ms": 1.0},
                                              {"package": "json", "self_ms": 0.3}]


def test_proc_readings_of_this_process() -> None:
    rss = rss_bytes(os.getpid(), tree=False)
    cpu = cpu_seconds(os.getpid(), tree=False)
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc here")
    assert rss is not None and rss > 1_000_000
    assert cpu is not None and cpu > 0


def test_dynamodb_item_size_rules() -> None:
    assert item_size({"id": {"S": "abc"}}) == 2 + 3
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # 5 significant digits: 3 bytes, + 1
    assert item_size({"m": {"M": {"a": {"BOOL": True}}}}) == 1 + 3 + (1 + 1 + 1)


def test_cost_model_arithmetic() -> None:
    row = cost.per_million(1024, 2.0, {"read_units": 1, "write_units": 4, "gsi_write_units": 1})
    usd = row["usd"]
    assert usd["lambda_requests"] == pytest.approx(0.20)
    assert usd["api_gateway"] == pytest.approx(3.50)
    assert usd["dynamodb_writes"] == pytest.approx(5 * 0.625)
    assert usd["dynamodb_reads"] == pytest.approx(0.125)
    assert usd["lambda_duration_gateway_work"] == pytest.approx(0.002 * 0.0000133334 * 1e6, rel=1e-3)
    model = cost.model(1024, None, None)
    assert model["dynamodb"]["scenarios"]["no limits"]["assumed"] is True
    assert "per_million_requests" not in model  # no timing: no duration to price
    assert cost.template_memory_mb() >= 128


def test_layer_zip_and_package_sizes(tmp_path: Path) -> None:
    tree = tmp_path / "layer"
    (tree / "python" / "pkg" / "__pycache__").mkdir(parents=True)
    (tree / "python" / "pkg" / "__init__.py").write_text("x = 1\n" * 100)
    (tree / "python" / "pkg" / "__pycache__" / "__init__.cpython-312.pyc").write_bytes(b"\0" * 100)
    (tree / "python" / "pkg-1.0.dist-info").mkdir()
    (tree / "python" / "pkg-1.0.dist-info" / "METADATA").write_text("Name: pkg\n")
    archive = tmp_path / "layer.zip"
    size = layer.zip_tree(tree, archive)
    assert size == archive.stat().st_size > 0
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist())[0] == "python/pkg-1.0.dist-info/METADATA"
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in opened.infolist())
    packages = {row["package"]: row for row in layer.by_package(archive)}
    assert set(packages) == {"pkg", "*.dist-info (metadata)"}
    assert packages["pkg"]["files"] == 2
    assert layer.zip_tree(tree, tmp_path / "src.zip", include_bytecode=False) < size


def test_litellm_config_is_fair_and_local() -> None:
    config = litellm_proxy.config("http://127.0.0.1:9/v1", "sk-dummy")
    (entry,) = config["model_list"]
    assert entry["model_name"] == entry["litellm_params"]["model"] == "openai/gpt-4o"
    assert entry["litellm_params"]["api_base"] == "http://127.0.0.1:9/v1"
    assert config["general_settings"]["master_key"].startswith("sk-")
    assert config["litellm_settings"]["set_verbose"] is False
    assert "database_url" not in config["general_settings"]
    assert litellm_proxy.ENVIRONMENT["LITELLM_LOG"] == "ERROR"
    assert "--num_workers" in litellm_proxy.command(
        litellm_proxy.LiteLLMEnv(Path("v"), "v/bin/python", "v/bin/litellm", "0", False), Path("c.yaml"), 1)


def test_targets_of_an_empty_report_are_not_measured() -> None:
    rows = report.targets({"config": {"concurrency": 32}})
    assert rows and all(row["met"] is None for row in rows)


def test_rounds_merge_into_medians() -> None:
    rounds = [{"rps": 100.0, "n": 3, "name": "a", "rows": [{"p99": 1.0}, {"p99": 9.0}], "flag": True},
              {"rps": 300.0, "n": 5, "name": "b", "rows": [{"p99": 2.0}, {"p99": 7.0}], "flag": False},
              {"rps": 200.0, "n": 4, "name": "c", "rows": [{"p99": 3.0}, {"p99": 8.0}], "flag": True}]
    assert median_of(rounds) == {"rps": 200.0, "n": 4, "name": "a", "rows": [{"p99": 2.0}, {"p99": 8.0}],
                                 "flag": True}
    assert median_of([{"x": 1}, {"y": 2}]) == {"x": 1, "y": 2}  # a figure one round lacks: the others'


def test_docs_block_is_replaced_and_the_rest_kept(tmp_path: Path,
                                                  smallest_run: tuple[dict[str, Any], str]) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nby hand, before\n")
    report.update_docs(smallest_run[0], page)
    first = page.read_text()
    assert first.startswith("# Performance\n\nby hand, before\n")
    assert report.DOCS_BEGIN in first and "| figure | lambdarouter | Portkey | LiteLLM |" in first
    page.write_text(first + "\nby hand, after\n")
    report.update_docs(smallest_run[0], page)
    second = page.read_text()
    assert second.count(report.DOCS_BEGIN) == 1 and second.endswith("by hand, after\n")
