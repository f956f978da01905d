"""Cold import time of each Lambda function entry module, each run in a fresh interpreter.

Entry modules are discovered as `functions/*/app.py`. Each is run with `runpy.run_path` (so a
`__main__` guard does not start a server) in a new `python` process; the gross figure is that process's
wall time, the net figure subtracts the median of a bare `python -c pass` (interpreter start and exit),
and the in-process figure is what the child itself timed around the import.

Bytecode: a deployed layer ships compiled `.pyc` files (pip compiles what it installs), so every run
reads them from a cache of the harness's own (`-X pycache_prefix` in its temporary directory, written by
one discarded run first). That keeps the figures independent of `PYTHONDONTWRITEBYTECODE` and of
whatever `__pycache__` happens to exist, and writes nothing into the repository or the venv.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import ROOT, python
from bench.stats import median

RUN_TIMEOUT = 120.0
# When no entry module exists yet: the app each kind of function builds, as stand-ins.
STAND_INS: dict[str, str] = {
    "stand-in:chat_completions": "from lambdarouter.http.app import create_app; create_app(['chat_completions'])",
    "stand-in:models_health_openapi": (
        "from lambdarouter.http.app import create_app; create_app(['models', 'health', 'openapi'])"
    ),
}
_TIMED = "import time; _t = time.perf_counter()\n{code}\nprint('BENCH_IMPORT_S', time.perf_counter() - _t)\n"
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    path: str | None  # repository-relative, or None for a stand-in
    code: str


def discover(root: Path = ROOT) -> list[Entry]:
    found = sorted((root / "functions").glob("*/app.py"))
    if found:
        relative = [p.relative_to(root).as_posix() for p in found]
        return [Entry(path.split("/")[1], path, f"import runpy; runpy.run_path({path!r})") for path in relative]
    return [Entry(name, None, code) for name, code in STAND_INS.items()]


def _run(code: str, env: Mapping[str, str], extra_flags: Sequence[str]) -> tuple[float, str, str]:
    """(wall seconds, stdout, stderr) of `python [flags] -c code`."""
    argv = [python(), *extra_flags, "-c", code]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=dict(env), capture_output=True, timeout=RUN_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed ({done.returncode}):\n{done.stderr.decode(errors='replace')[-3000:]}")
    return elapsed, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


def _in_process(stdout: str) -> float:
    for line in stdout.splitlines():
        if line.startswith("BENCH_IMPORT_S "):
            return float(line.split()[1])
    raise RuntimeError(f"the import run did not report its time:\n{stdout[-2000:]}")


def top_imports(stderr: str, limit: int = 12) -> list[dict[str, Any]]:
    """The heaviest top-level imports (cumulative µs) of a `-X importtime` report."""
    rows: list[tuple[int, int, str]] = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match and len(match.group(3)) == 1:  # one space of indent: imported by the entry itself
            rows.append((int(match.group(2)), int(match.group(1)), match.group(4)))
    rows.sort(reverse=True)
    return [{"module": name, "cumulative_ms": round(cum / 1000, 2), "self_ms": round(own / 1000, 2)}
            for cum, own, name in rows[:limit]]


def heaviest_modules(stderr: str, limit: int = 15) -> list[dict[str, Any]]:
    """The modules with the most self time (µs) in a `-X importtime` report, at any depth."""
    rows: list[tuple[int, int, str]] = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            rows.append((int(match.group(1)), int(match.group(2)), match.group(4)))
    rows.sort(reverse=True)
    return [{"module": name, "self_ms": round(own / 1000, 2), "cumulative_ms": round(cum / 1000, 2)}
            for own, cum, name in rows[:limit]]


def measure(env: Mapping[str, str], runs: int, workdir: Path) -> dict[str, Any]:
    """Baseline and every entry module: medians (ms) of `runs` fresh interpreters each, interleaved."""
    entries = discover()
    baseline_code = "pass"
    env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    flags = ["-X", f"pycache_prefix={workdir / 'pycache'}"]
    for entry in entries:  # write the bytecode cache, and fail early on a broken entry module
        _run(_TIMED.format(code=entry.code), env, flags)
    _run(baseline_code, env, flags)
    baseline: list[float] = []
    gross: dict[str, list[float]] = {e.name: [] for e in entries}
    inside: dict[str, list[float]] = {e.name: [] for e in entries}
    for _ in range(runs):  # round-robin, so drift on the machine spreads over every entry alike
        baseline.append(_run(baseline_code, env, flags)[0])
        for entry in entries:
            wall, stdout, _stderr = _run(_TIMED.format(code=entry.code), env, flags)
            gross[entry.name].append(wall)
            inside[entry.name].append(_in_process(stdout))
    base_ms = median(baseline) * 1000
    results: list[dict[str, Any]] = []
    for entry in entries:
        _wall, _stdout, report = _run(entry.code, env, [*flags, "-X", "importtime"])
        gross_ms = median(gross[entry.name]) * 1000
        results.append({
            "name": entry.name,
            "path": entry.path,
            "kind": "entry" if entry.path else "stand-in",
            "code": entry.code,
            "gross_median_ms": round(gross_ms, 2),
            "net_median_ms": round(gross_ms - base_ms, 2),
            "in_process_median_ms": round(median(inside[entry.name]) * 1000, 2),
            "gross_runs_ms": [round(s * 1000, 2) for s in gross[entry.name]],
            "top_imports": top_imports(report),
            "heaviest_modules": heaviest_modules(report),
        })
    return {
        "runs": runs,
        "bytecode": "compiled .pyc files (harness-owned -X pycache_prefix, warmed by a discarded run)",
        "baseline": {"code": f"python -c {baseline_code}", "median_ms": round(base_ms, 2),
                     "runs_ms": [round(s * 1000, 2) for s in baseline]},
        "functions": results,
    }
