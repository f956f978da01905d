"""The benchmark run: start the fake upstream and the gateway, time both, time the imports, report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import imports, latency
from bench.procs import ROOT, child_env, free_port, python, run_json, server

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
SCHEMA_VERSION = 1
TARGET_ADDED_P50_MS = 2.0
TARGET_IMPORT_MS = 400.0
UPSTREAM_KEY = "sk-bench-upstream"
# (pairs, stream pairs, warm-up pairs, streamed warm-up pairs, import runs)
FULL = (2000, 500, 200, 50, 11)
QUICK = (200, 50, 30, 10, 7)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (200/50 pairs, 7 import runs)")
    parser.add_argument("--pairs", type=int, help="non-streamed pairs (default 2000, quick 200)")
    parser.add_argument("--stream-pairs", type=int, help="streamed pairs (default 500, quick 50)")
    parser.add_argument("--warmup", type=int, help="unrecorded non-streamed pairs first (default 200, quick 30)")
    parser.add_argument("--stream-warmup", type=int, help="unrecorded streamed pairs first (default 50, quick 10)")
    parser.add_argument("--stream-chunks", type=int, default=16, help="content chunks per streamed answer")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters per entry module (default 11, quick 7)")
    parser.add_argument("--gateway-launcher", type=Path,
                        help="a Python script run instead of `-m lambdarouter` for `serve` (to A/B a variant)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON report (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for name, default in zip(("pairs", "stream_pairs", "warmup", "stream_warmup", "import_runs"), defaults,
                             strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    for name in ("pairs", "stream_pairs", "import_runs", "stream_chunks"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.stream_warmup < 0:
        parser.error("warm-up counts cannot be negative")
    return args


# -- machine ----------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load: other work on the machine is the usual cause of a noisy p99."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_info() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": load_average(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


# -- latency ----------------------------------------------------------------------------------------------


def _serve_flags() -> list[str]:
    """`--log-level warning --no-access-log`, as far as this version of the CLI knows them."""
    done = subprocess.run([python(), "-m", "lambdarouter", "serve", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    flags = ["--log-level", "warning"] if "--log-level" in done.stdout else []
    return [*flags, "--no-access-log"] if "--no-access-log" in done.stdout else flags


def measure_latency(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    up_port, gw_port = free_port(), free_port()
    while gw_port == up_port:  # bounded in practice: the OS hands out a different free port
        gw_port = free_port()
    upstream_base = f"http://127.0.0.1:{up_port}/v1"
    gateway_base = f"http://127.0.0.1:{gw_port}/api/v1"
    gateway_env = child_env({
        "LAMBDAROUTER_DB": str(workdir / "gateway.sqlite3"),
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "OPENAI_BASE_URL": upstream_base,
    })
    created = run_json([python(), "-m", "lambdarouter", "keys", "create", "--name", "bench", "--json"], gateway_env)
    if not isinstance(created, dict) or not isinstance(created.get("key"), str):
        raise RuntimeError(f"`lambdarouter keys create --json` printed {created!r}")
    serve_flags = _serve_flags()
    upstream_argv = [python(), str(ROOT / "bench" / "upstream.py"), "--port", str(up_port),
                     "--content-chunks", str(args.stream_chunks)]
    launcher = [str(args.gateway_launcher.resolve())] if args.gateway_launcher else ["-m", "lambdarouter"]
    gateway_argv = [python(), *launcher, "serve", "--host", "127.0.0.1", "--port", str(gw_port),
                    *serve_flags]
    with ExitStack() as stack:
        stack.enter_context(server("upstream", upstream_argv, child_env({}), f"http://127.0.0.1:{up_port}/health",
                                   workdir))
        stack.enter_context(server("gateway", gateway_argv, gateway_env, f"{gateway_base}/health", workdir))
        client = stack.enter_context(latency.new_client())
        direct, gateway = latency.targets(upstream_base, gateway_base, created["key"])
        latency.check_answers(client, direct, gateway)
        print(f"  non-streamed: {args.warmup} warm-up + {args.pairs} pairs ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        whole = latency.paired(client, direct, gateway, latency.timed_completion, args.pairs, args.warmup)
        whole_s = time.perf_counter() - started
        print(f"  streamed: {args.stream_warmup} warm-up + {args.stream_pairs} pairs ...", file=sys.stderr,
              flush=True)
        started = time.perf_counter()
        streamed = latency.paired(client, direct, gateway, latency.timed_first_content, args.stream_pairs,
                                  args.stream_warmup)
        streamed_s = time.perf_counter() - started
    return {
        "method": ("one httpx.Client (HTTP/1.1, persistent connections); each pair sends the same request "
                   "straight to the fake upstream and through `lambdarouter serve`, alternating which goes "
                   "first; added = gateway - direct per pair"),
        "gateway_launcher": str(args.gateway_launcher) if args.gateway_launcher else None,
        "gateway_command": ["lambdarouter", *("<port>" if a == str(gw_port) else a
                                              for a in gateway_argv[len(launcher) + 1:])],
        "stream_content_chunks": args.stream_chunks,
        "non_streamed": {"warmup_pairs": args.warmup, "seconds": round(whole_s, 2), **whole},
        "streamed_ttft": {"warmup_pairs": args.stream_warmup, "seconds": round(streamed_s, 2), **streamed},
    }


# -- report -----------------------------------------------------------------------------------------------


def targets(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"added_p50_ms_max": TARGET_ADDED_P50_MS, "import_net_ms_max": TARGET_IMPORT_MS}
    if "latency" in report:
        out["added_p50_met"] = report["latency"]["non_streamed"]["added"]["p50"] <= TARGET_ADDED_P50_MS
    if "imports" in report:
        out["imports_met"] = {f["name"]: f["net_median_ms"] <= TARGET_IMPORT_MS for f in report["imports"]["functions"]}
    return out


def format_report(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"lambdarouter bench — {report['date']} — {m['cpu_model']}, {m['cores']} cores, Python {m['python']}"]
    if "latency" in report:
        lat = report["latency"]
        lines += ["", f"{'latency (ms)':<34}{'p50':>9}{'p90':>9}{'p99':>9}{'mean':>9}{'n':>7}"]
        for title, section in (("non-streamed, whole response", lat["non_streamed"]),
                               ("streamed, time to first content", lat["streamed_ttft"])):
            lines.append(f"  {title}")
            for key, label in (("direct", "direct to upstream"), ("gateway", "through gateway"),
                               ("added", "added (gateway - direct)")):
                s = section[key]
                lines.append(f"    {label:<30}{s['p50']:>9.3f}{s['p90']:>9.3f}{s['p99']:>9.3f}{s['mean']:>9.3f}"
                             f"{s['n']:>7}")
    if "imports" in report:
        imp = report["imports"]
        lines += ["", f"{'cold import (ms, median of ' + str(imp['runs']) + ')':<42}{'gross':>9}{'net':>9}"
                      f"{'in-proc':>9}",
                  f"  {'python -c pass (baseline)':<40}{imp['baseline']['median_ms']:>9.1f}"]
        for f in imp["functions"]:
            name = f["path"] or f["name"]
            lines.append(f"  {name:<40}{f['gross_median_ms']:>9.1f}{f['net_median_ms']:>9.1f}"
                         f"{f['in_process_median_ms']:>9.1f}")
    t = report["targets"]
    lines.append("")
    if "added_p50_met" in t:
        verdict = "met" if t["added_p50_met"] else "MISSED"
        lines.append(f"target: added p50 <= {t['added_p50_ms_max']} ms non-streamed: {verdict}")
    for name, met in t.get("imports_met", {}).items():
        lines.append(f"target: import {name} <= {t['import_net_ms_max']:.0f} ms net: {'met' if met else 'MISSED'}")
    return "\n".join(lines)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`, which stops the servers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {"quick": args.quick, "pairs": args.pairs, "stream_pairs": args.stream_pairs,
                   "warmup": args.warmup, "stream_warmup": args.stream_warmup,
                   "stream_chunks": args.stream_chunks, "import_runs": args.import_runs},
    }
    with tempfile.TemporaryDirectory(prefix="lambdarouter-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_latency:
            print("added latency ...", file=sys.stderr, flush=True)
            report["latency"] = measure_latency(args, workdir)
        if not args.skip_imports:
            print(f"cold imports ({args.import_runs} runs each) ...", file=sys.stderr, flush=True)
            env = child_env({"LAMBDAROUTER_DB": str(workdir / "imports.sqlite3")})
            report["imports"] = imports.measure(env, args.import_runs, workdir)
    report["machine"]["load_average_at_end"] = load_average()
    report["targets"] = targets(report)
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".tmp")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    partial.replace(output)
    print(format_report(report))
    print(f"\nwrote {output}")
    return 0
