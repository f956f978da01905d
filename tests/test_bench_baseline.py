"""`python -m bench --baseline REV`: an older lambdarouter measured beside the current one, in the same run.

HEAD stands in for the older revision (a clean clone has no other commit we can name). The harness's own
functions run at the smallest sizes (no whole bench run, no pinning of this test process): the worktree is
made and removed, the baseline really runs its tree's code (not the venv's editable install of this one), and
the report shows its column and the ratio. No timing is asserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench import baseline, coldstart, harness, machine, options, report
from bench.baseline_coldstart import baseline_probes
from bench.coldstart_phase import _layer_of, _same_deployment
from bench.peers import ADMIN_KEY, create_key, gateway_env
from bench.procs import ROOT, child_env, python

TINY = ["--pairs", "6", "--warmup", "2", "--stream-pairs", "3", "--stream-warmup", "1", "--concurrency", "2",
        "--concurrent-pairs", "4", "--concurrent-warmup", "2", "--throughput-concurrency", "2",
        "--throughput-requests", "40", "--stream-throughput-requests", "10", "--repeats", "1", "--cold-runs", "1"]


def _head() -> str:
    head = machine.git("rev-parse", "HEAD")
    if not head:
        pytest.skip("not a git checkout: --baseline needs one")
    return head


def _worktrees() -> str:
    return machine.git("worktree", "list", "--porcelain") or ""


@pytest.fixture(scope="module")
def run_beside_head(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[str], str]:
    head = _head()
    workdir = tmp_path_factory.mktemp("bench-baseline")
    args = options.parse_args(["--quick", "--no-litellm", "--no-portkey", "--no-pin", "--baseline", "HEAD",
                               "--skip", "memory,coldstart,cost,layer,profile", *TINY,
                               "--output", str(workdir / "out.json")])
    out: dict[str, Any] = {"config": options.config(args), "machine": machine.machine_info()}
    failed = harness.run(args, workdir, out)
    return out, failed, head


def test_the_baseline_runs_in_the_same_rounds_as_the_gateway(
        run_beside_head: tuple[dict[str, Any], list[str], str]) -> None:
    out, failed, head = run_beside_head
    assert failed == []
    old = out["baseline"]
    assert old["commit"] == head
    assert old["label"] == f"lambdarouter@{machine.git('rev-parse', '--short', head)}"
    # Its own code: the old tree's src, first on PYTHONPATH, not the venv's editable install of this tree.
    imported = Path(old["lambdarouter_imported_from"])
    assert imported.is_relative_to(Path(old["pythonpath"]))
    assert not imported.is_relative_to(ROOT / "src")
    assert old["command"] == out["gateway"]["command"]  # started the same way
    for side in (out["gateway"], old):
        assert side["repeats"] == 1
        assert side["c1"]["through"]["n"] == 6
        assert side["c1_streamed"]["ttft"]["through"]["n"] == 3
        assert [row["errors"] for row in side["throughput"]] == [0, 0]
    # The worktree is gone, and so is its registration in the repository.
    assert not Path(old["pythonpath"]).exists()
    assert old["pythonpath"].removesuffix("/src") not in _worktrees()


def test_the_report_has_its_column_and_the_ratio(run_beside_head: tuple[dict[str, Any], list[str], str]) -> None:
    out = run_beside_head[0]
    label = out["baseline"]["label"]
    table = report.markdown_results(out)
    assert table.splitlines()[0] == f"| figure | lambdarouter | {label} | lambdarouter / {label} | Portkey | LiteLLM |"
    rows = {row["figure"]: row for row in report.baseline_comparison(out)}
    streamed = rows["throughput, streamed, concurrency 2 (requests/s)"]
    assert streamed["lambdarouter"] > 0 and streamed["baseline"] > 0
    assert streamed["ratio"] == round(streamed["lambdarouter"] / streamed["baseline"], 3)
    assert "added latency, non-streamed, concurrency 1, p99 (ms)" in rows
    assert f"{label} (commit" in report.markdown_machine({**out, "date": "-", "seconds": 0})
    assert "lambdarouter@" not in report.markdown_results({k: v for k, v in out.items() if k != "baseline"})


def test_cold_start_probes_of_the_old_tree(tmp_path: Path) -> None:
    """The old tree's function beside the current one in one round-robin, its own key, its own files."""
    _head()
    args = options.parse_args(["--coldstart-from", "venv", "--baseline", "HEAD", "--no-litellm", "--no-portkey"])
    upstream = "http://127.0.0.1:9/v1"  # never reached: the key function's event asks the store only
    env = {**gateway_env(tmp_path, "coldstart", upstream), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}
    keys = {"LAMBDAROUTER_KEY": create_key(env), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}
    current = [p for p in coldstart.entry_probes(env, keys, tmp_path) if p.name == "key"]
    with baseline.checkout("HEAD", tmp_path) as old:
        probes, info = baseline_probes(args, tmp_path, upstream, old, current)
        (theirs,) = [p for p in probes if p.name == f"key@{old.short}"]
        assert theirs.argv[1] == str(old.tree / "functions" / "key" / "app.py")
        assert info["compared"].startswith("functions/*/app.py in both trees")
        measured = coldstart.measure([*current, theirs], 1, tmp_path)
    rows = {p["name"]: p for p in measured["probes"]}
    assert rows["key"]["served_ok"] and rows[theirs.name]["served_ok"]
    assert rows[theirs.name]["cpu_median_ms"] > 0 and rows[theirs.name]["top_imports"]
    shown = report.results_rows({"baseline": info, "coldstart": {
        "probes": [rows["key"]], "baseline": {"probes": [rows[theirs.name]]}}})
    (wall,) = [values for label, values in shown if label == "cold start, functions/key/app.py: import + first "
               "request (ms)"]
    assert wall[:2] == [rows["key"]["cold_start_median_ms"], rows[theirs.name]["cold_start_median_ms"]]


def test_the_baseline_must_run_the_old_code(tmp_path: Path) -> None:
    """The venv has an editable install of this tree: without the old src first, the check fails loudly."""
    with pytest.raises(RuntimeError, match="would not run the old code"):
        baseline.check_imported(python(), child_env({}), tmp_path)
    found = baseline.check_imported(python(), child_env({}), ROOT / "src")
    assert found == str(ROOT / "src" / "lambdarouter" / "__init__.py")


class PhaseFailed(Exception):
    pass


def _fail_inside(tmp_path: Path) -> None:
    with baseline.checkout("HEAD", tmp_path) as old:
        assert (old.tree / "src" / "lambdarouter" / "__init__.py").is_file()
        raise PhaseFailed(str(old.tree))


def test_the_worktree_is_removed_when_the_run_fails(tmp_path: Path) -> None:
    _head()
    with pytest.raises(PhaseFailed) as failed:
        _fail_inside(tmp_path)
    tree = Path(str(failed.value))
    assert not tree.exists()
    assert str(tree) not in _worktrees()
    with pytest.raises(RuntimeError, match="not a commit"), baseline.checkout("no-such-revision-0123", tmp_path):
        pass


def test_the_baseline_runs_deployed_only_where_its_deployment_is_this_trees(tmp_path: Path) -> None:
    """`--baseline` adds the old tree's functions in the deployed configuration (bench/coldstart_phase.py) from its
    layer, and only where its template.yaml and functions/ are this tree's: the deployed probes run this tree's
    `run.sh` in this template's environments, so anything else would compare deployments, not code."""
    assert _same_deployment(ROOT)
    copy = tmp_path / "tree"
    for file in [ROOT / "template.yaml", *(ROOT / "functions").glob("*/*")]:
        if file.is_file():
            target = copy / file.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    assert _same_deployment(copy)
    (copy / "functions" / "chat_completions" / "run.sh").write_text("#!/bin/sh\nexit 1\n")
    assert not _same_deployment(copy)
    (copy / "functions" / "chat_completions" / "run.sh").unlink()
    assert not _same_deployment(copy)

    layer = tmp_path / "layer"
    from_layer = coldstart.Probe("key", "entry", "/usr/bin/python3.12", ("entry",), {"PYTHONPATH": str(layer)},
                                 flags=("-S",))
    from_venv = coldstart.Probe("key", "entry", python(), ("entry",), {})
    assert _layer_of([from_venv, from_layer]) == (layer, "/usr/bin/python3.12")
    assert _layer_of([from_venv]) is None
