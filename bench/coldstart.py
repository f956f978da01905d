"""Cold start of each Lambda function: a fresh interpreter imports its entry module and serves one request.

Entry modules are discovered as `functions/*/app.py`; each run is `python bench/coldstart_child.py entry
<path> ...` in a new process (see that file): a Mangum `handler` gets an API Gateway event from `events/`
(`<name>.json`, else a successful GET event for one of its routes in template.yaml, its key placeholders
filled in), an ASGI `app` gets one POST /api/v1/chat/completions (for `chat_completions`; GET
/api/v1/health for any other) whose upstream call goes to the fake upstream.

Figures per run, from `time.monotonic()` (system-wide, so the parent's stamp before starting the process
and the child's stamps compare): cold start = process start → response in hand (interpreter start +
import + first request); and its parts. Beside them, `import litellm` measured the same way in the LiteLLM
environment: process start → import done. Medians of `runs`, round-robin so drift on the machine spreads
over every probe alike.

Bytecode: a deployed layer ships compiled `.pyc` files, and pip compiled LiteLLM's on install, so every
run reads bytecode from a cache of the harness's own (`-X pycache_prefix` in its temporary directory,
written by one discarded run first): independent of `PYTHONDONTWRITEBYTECODE`, nothing written into the
repository or a venv. One more run per probe under `-X importtime` names the heaviest imports.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.coldstart_deployed import run_server
from bench.procs import ROOT, python
from bench.stats import median

RUN_TIMEOUT = 120.0
CHILD = ROOT / "bench" / "coldstart_child.py"
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)\s*$")
_MARK = "BENCH_COLDSTART "


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    kind: str  # "entry" (import + one request) or "import" (import only)
    python: str
    argv: tuple[str, ...]  # after the child script
    env: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None
    event: str | None = None
    flags: tuple[str, ...] = ()
    uncompiled: bool = True  # also measured with only the standard library compiled


_AVOID = ("bad", "unknown", "missing", "gateway-key", "admin-key", "delete", "create", "update", "stream")
_PLACEHOLDERS = ("${LAMBDAROUTER_KEY}", "${LAMBDAROUTER_ADMIN_KEY}")


def function_routes(template: str) -> dict[str, list[tuple[str, str]]]:
    """functions/<name>/ → its API events' (method, path), read from template.yaml's text."""
    routes: dict[str, list[tuple[str, str]]] = {}
    current: str | None = None
    path: str | None = None
    for line in template.splitlines():
        code = re.search(r"CodeUri:\s*functions/([^/\s]+)/?", line)
        if code:
            current = code.group(1)
            routes.setdefault(current, [])
            continue
        found_path = re.search(r"Path:\s*\"?([^\",}\s]+)\"?", line)
        if found_path:
            path = found_path.group(1)
        found_method = re.search(r"Method:\s*(\w+)", line)
        if found_method and path and current:
            routes[current].append((found_method.group(1).upper(), path))
            path = None
    return routes


def event_for(name: str, root: Path = ROOT) -> Path | None:
    """The API Gateway event a function's cold start is served with: `events/<name>.json` (`_` read as `-`
    too), else the first successful-looking event (by file name; GET first) for one of its routes."""
    for candidate in (name, name.replace("_", "-")):
        path = root / "events" / f"{candidate}.json"
        if path.is_file():
            return path
    served = set(function_routes((root / "template.yaml").read_text()).get(name, []))
    found: list[tuple[bool, str, Path]] = []
    for path in sorted((root / "events").glob("*.json")):
        if any(word in path.stem for word in _AVOID):
            continue
        try:
            event = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(event, dict) and (str(event.get("httpMethod")), str(event.get("resource"))) in served:
            found.append((event.get("httpMethod") != "GET", path.name, path))
    return min(found)[2] if found else None


def _filled_event(event: Path, keys: Mapping[str, str], workdir: Path) -> Path:
    """The event with its `${LAMBDAROUTER_KEY}` / `${LAMBDAROUTER_ADMIN_KEY}` placeholders filled in."""
    text = event.read_text()
    for placeholder in _PLACEHOLDERS:
        text = text.replace(placeholder, keys.get(placeholder.strip("${}"), ""))
    out = workdir / f"event-{event.name}"
    out.write_text(text)
    return out


def entry_probes(env: Mapping[str, str], keys: Mapping[str, str], workdir: Path, root: Path = ROOT,
                 layer: tuple[Path, str] | None = None) -> list[Probe]:
    """One probe per `functions/*/app.py`; `keys` fills the events' key placeholders (by variable name).

    With `layer` (its python directory, the bare interpreter to run it with) the functions import only
    what the layer ships (`-S`, PYTHONPATH=layer), as on Lambda; without it, from this venv."""
    interpreter = python()
    flags: tuple[str, ...] = ()
    if layer is not None:
        env = {**env, "PYTHONPATH": str(layer[0])}
        interpreter, flags = layer[1], ("-S",)
    probes: list[Probe] = []
    for app in sorted((root / "functions").glob("*/app.py")):
        name = app.parent.name
        relative = app.relative_to(root).as_posix()
        mangum = re.search(r"^handler\s*=", app.read_text(), re.MULTILINE) is not None
        event = event_for(name, root)
        args = ["--event" if mangum else "--asgi-event", str(_filled_event(event, keys, workdir))] if event \
            else ["--import-only"]
        entry = relative if root == ROOT else str(app)  # the child runs in ROOT: another tree's by its full path
        probes.append(Probe(name, "entry", interpreter, ("entry", entry, *args), env, relative,
                            event.name if event else None, flags))
    return probes


def deployed_probes(environments: Mapping[str, Mapping[str, str]], keys: Mapping[str, str], workdir: Path,
                    layer: tuple[Path, str], root: Path = ROOT) -> list[Probe]:
    """Each function as deployed (bench/coldstart_deployed.py): `run.sh` under the Web Adapter's protocol where
    the function has one, else its Mangum handler; `environments` from template.yaml (by functions/<name>)."""
    probes: list[Probe] = []
    for probe in entry_probes({}, keys, workdir, root, layer):
        name = probe.name
        env = {**environments[name], "PYTHONPATH": str(layer[0])}
        if (root / "functions" / name / "run.sh").is_file() and probe.event:
            event = str(workdir / f"event-{probe.event}")
            probes.append(replace(probe, name=f"{name} (deployed)", kind="server", env=env, uncompiled=False,
                                  argv=("server", name, event), flags=()))
        else:
            probes.append(replace(probe, name=f"{name} (deployed)", env=env, uncompiled=False))
    return probes


def litellm_probe(venv_python: str, env: Mapping[str, str]) -> Probe:
    return Probe("import litellm", "import", venv_python, ("import", "litellm"), env)


def _run(probe: Probe, flags: Sequence[str]) -> tuple[dict[str, Any], float, float, str]:
    """(child report, parent's monotonic stamp before the start, wall seconds to exit, stderr)."""
    if probe.kind == "server":
        _, function_dir, event = probe.argv
        env = {**probe.env, **({"PYTHONPROFILEIMPORTTIME": "1"} if "importtime" in flags else {})}
        layer = Path(env["PYTHONPATH"]) if "PYTHONPATH" in env else None
        return run_server(function_dir, env, Path(event), probe.python, layer, Path(event).parent)
    argv = [probe.python, *probe.flags, *flags, str(CHILD), *probe.argv]
    _child_cpu_seconds()  # from here on, the children's CPU is this child's
    started = time.monotonic()
    child = subprocess.Popen(argv, cwd=ROOT, env=dict(probe.env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = child.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        raise
    wall = time.monotonic() - started
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{probe.name}: {' '.join(argv[:6])} ... failed ({child.returncode}):\n{stderr[-3000:]}")
    for line in stdout.splitlines():
        if line.startswith(_MARK):
            report: dict[str, Any] = json.loads(line[len(_MARK):])
            report["cpu_to_exit_s"] = _child_cpu_seconds()
            report.setdefault("cpu_s", report["cpu_to_exit_s"])
            return report, started, wall, stderr
    raise RuntimeError(f"{probe.name}: no report from the child:\n{stdout[-2000:]}\n{stderr[-2000:]}")


_children_cpu = [0.0]


def _child_cpu_seconds() -> float:
    """User + system CPU of the children reaped since the last call (the harness runs one child at a time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    used, _children_cpu[0] = total - _children_cpu[0], total
    return used


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


def imported_by_package(stderr: str, limit: int = 12) -> list[dict[str, Any]]:
    """Self import time summed by top-level package: where the import time goes."""
    totals: dict[str, int] = {}
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            package = match.group(4).split(".")[0]
            totals[package] = totals.get(package, 0) + int(match.group(1))
    rows = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:limit]
    return [{"package": name, "self_ms": round(us / 1000, 2)} for name, us in rows]


def measure(probes: Sequence[Probe], runs: int, workdir: Path) -> dict[str, Any]:
    """Medians (ms) of `runs` fresh interpreters per probe, round-robin, after one discarded run each.

    Entry modules are also run `runs` times with a bytecode cache holding the standard library only (a
    fresh `pycache_prefix` each time): what a layer shipped without `.pyc` files costs, since /opt is
    read-only on Lambda and every cold start then compiles every layer module it imports (the runtime's
    own standard library comes compiled).
    """
    flags = ["-X", f"pycache_prefix={workdir / 'pycache'}"]
    statuses: dict[str, int | None] = {}
    for probe in probes:  # writes the bytecode cache, and fails early on a broken entry module
        statuses[probe.name] = _run(probe, flags)[0].get("status")
    samples: dict[str, list[dict[str, float]]] = {p.name: [] for p in probes}
    for _ in range(runs):
        for probe in probes:
            report, started, wall, _stderr = _run(probe, flags)
            end = report.get("answered", report["imported"])  # import-only: no event to serve
            row = {
                "cold_start_ms": (end - started) * 1000,
                "cpu_ms": (report.get("cpu_s") or 0.0) * 1000,
                "interpreter_ms": (report["started"] - started) * 1000,
                "import_ms": report["import_s"] * 1000,
                "wall_to_exit_ms": wall * 1000,
            }
            if "request_s" in report:
                row["first_request_ms"] = report["request_s"] * 1000
            samples[probe.name].append(row)
    uncompiled: dict[str, list[float]] = {p.name: [] for p in probes if p.kind == "entry" and p.uncompiled}
    for i in range(runs):
        for probe in probes:
            if probe.name in uncompiled:
                fresh = _stdlib_only_cache(probe.python, workdir / "pycache", workdir / f"cold-{i}-{probe.name}")
                report, started, _wall, _stderr = _run(probe, ["-X", f"pycache_prefix={fresh}"])
                uncompiled[probe.name].append((report.get("answered", report["imported"]) - started) * 1000)
    results: list[dict[str, Any]] = []
    for probe in probes:
        _report, _started, _wall, profile = _run(probe, [*flags, "-X", "importtime"])
        rows = samples[probe.name]
        out: dict[str, Any] = {"name": probe.name, "kind": probe.kind, "path": probe.path,
                               "aws_configuration": "AWS_LAMBDA_FUNCTION_NAME" in probe.env,
                               "command": ["python", "bench/coldstart_child.py", *_shown(probe.argv)],
                               "event": probe.event, "status": statuses[probe.name],
                               "served_ok": isinstance(statuses[probe.name], int)
                               and 200 <= statuses[probe.name] < 400}  # type: ignore[operator]
        for key in rows[0]:
            out[f"{key.removesuffix('_ms')}_median_ms"] = round(median([r[key] for r in rows]), 2)
        out["cold_start_runs_ms"] = [round(r["cold_start_ms"], 2) for r in rows]
        if probe.name in uncompiled:
            out["cold_start_without_pyc_median_ms"] = round(median(uncompiled[probe.name]), 2)
        out["top_imports"] = top_imports(profile)
        out["heaviest_modules"] = heaviest_modules(profile)
        out["import_self_ms_by_package"] = imported_by_package(profile)
        results.append(out)
    return {
        "runs": runs,
        "method": ("fresh interpreter per run; cold start = process start -> first response in hand (entry) or "
                   "import done (import), from CLOCK_MONOTONIC stamps; medians"),
        "bytecode": "compiled .pyc files (harness-owned -X pycache_prefix, warmed by a discarded run)",
        "probes": results,
    }


def _stdlib_only_cache(interpreter: str, warm: Path, fresh: Path) -> Path:
    """A new `pycache_prefix` whose only content is the warm cache's standard library (a symlink)."""
    done = subprocess.run([interpreter, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                          capture_output=True, text=True, timeout=60, check=True)
    stdlib = Path(done.stdout.strip())
    mirrored = fresh / stdlib.relative_to(stdlib.anchor)
    mirrored.parent.mkdir(parents=True, exist_ok=True)
    mirrored.symlink_to(warm / stdlib.relative_to(stdlib.anchor), target_is_directory=True)
    return fresh


def _shown(argv: Sequence[str]) -> list[str]:
    """The child's arguments without the request body and the key."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in ("--body", "--authorization") and i + 1 < len(argv):
            out += [arg, "<...>"]
            skip = True
        else:
            out.append(arg)
    return out
