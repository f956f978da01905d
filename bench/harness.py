"""The benchmark run: one fake upstream; the gateway, Portkey's gateway and LiteLLM's proxy in front of it in turn
(and an older lambdarouter with `--baseline REV`); cold starts, memory, the layer's size and the cost model.
See bench/README.md. Options: bench/options.py; the phases: bench/serving.py, bench/coldstart_phase.py,
bench/phases.py."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    baseline,
    coldstart_phase,
    layer,
    litellm_proxy,
    machine,
    options,
    peers,
    phases,
    portkey_gateway,
    report,
    serving,
)
from bench.latency import UPSTREAM_MODEL, make_target
from bench.peers import Peer
from bench.phase import run_phase, say
from bench.procs import ROOT, child_env, free_port, pin, python, server

SCHEMA_VERSION = 2
UPSTREAM_KEY = peers.UPSTREAM_KEY


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`, which stops the servers


def comparisons(args: argparse.Namespace, workdir: Path,
                out: dict[str, Any]) -> tuple[list[Peer], litellm_proxy.LiteLLMEnv | None]:
    """The peers beside the gateway that could be set up (each made once, then reused; why not, in `out`), and
    LiteLLM's environment (for `import litellm` beside the cold starts)."""
    found: list[Peer] = []
    lite: litellm_proxy.LiteLLMEnv | None = None
    if args.no_portkey:
        out["portkey"] = {"skipped": "--no-portkey"}
    else:
        say("Portkey's gateway (npm) ...")
        made_pk = portkey_gateway.ensure(workdir / "portkey-install.log")
        if isinstance(made_pk, str):
            out["portkey"] = {"skipped": made_pk}
            say(f"  Portkey skipped: {made_pk}")
        else:
            found.append(peers.portkey_peer(made_pk))
    if args.no_litellm:
        out["litellm"] = {"skipped": "--no-litellm"}
    else:
        say("LiteLLM environment ...")
        made = litellm_proxy.ensure(args.litellm_venv, args.litellm_spec, workdir / "litellm-install.log")
        if isinstance(made, str):
            out["litellm"] = {"skipped": made}
            say(f"  LiteLLM skipped: {made}")
        else:
            lite = made
            found.append(peers.litellm_peer(made))
    return found, lite


def _baseline(args: argparse.Namespace, workdir: Path, stack: ExitStack, out: dict[str, Any],
              errors: list[str]) -> tuple[baseline.Baseline | None, list[Peer]]:
    """With `--baseline REV`: its worktree (removed when `stack` closes) and its peer, unless either fails (then
    recorded under "baseline", and the run goes on without it)."""
    if not args.baseline:
        return None, []
    say(f"baseline {args.baseline}: a detached worktree ...")
    try:
        old = stack.enter_context(baseline.checkout(args.baseline, workdir))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        out[baseline.NAME] = {"rev": args.baseline, "error": str(exc)[-4000:]}
        errors.append(baseline.NAME)
        return None, []
    try:
        return old, [peers.baseline_peer(old)]
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        out[baseline.NAME] = {**old.describe(), "error": str(exc)[-4000:]}
        errors.append(baseline.NAME)
        return old, []


def _upstream(args: argparse.Namespace, workdir: Path, stack: ExitStack) -> tuple[int, str]:
    """The fake upstream for the whole run (on the client's core with --pin): its pid and base URL."""
    port = free_port()
    argv = [python(), str(ROOT / "bench" / "upstream.py"), "--port", str(port),
            "--content-chunks", str(args.stream_chunks)]
    upstream = stack.enter_context(server("upstream", argv, child_env({}), f"http://127.0.0.1:{port}/health",
                                          workdir))
    if args.pin:
        pin(upstream.pid, {0})
    return upstream.pid, f"http://127.0.0.1:{port}/v1"


def run(args: argparse.Namespace, workdir: Path, out: dict[str, Any]) -> list[str]:
    """Every phase not skipped; the names of those that failed."""
    skip = args.skip
    errors: list[str] = []
    if args.pin:
        pin(os.getpid(), {0}, tree=False)  # the client; the upstream joins it below
    with ExitStack() as stack:
        old, older = _baseline(args, workdir, stack, out, errors)
        others, lite = comparisons(args, workdir, out)
        servers = [peers.gateway_peer(args.gateway_launcher), *older, *others]
        upstream_pid, upstream_base = _upstream(args, workdir, stack)
        direct = make_target("direct", upstream_base, UPSTREAM_MODEL, UPSTREAM_KEY)

        def phase(name: str, what: Callable[[], dict[str, Any]], into: str | None = None) -> None:
            run_phase(out, errors, name, what, into)

        if "throughput" not in skip:
            say("upstream alone (reference) ...")
            phase("direct", lambda: serving.measure_direct(args, direct, upstream_pid))
        if {"latency", "throughput"} - skip:
            serving.run_serving(args, workdir, upstream_base, direct, servers, out, errors)
        if "memory" not in skip:
            for peer in servers:
                say(f"{peer.label} memory at {args.memory_checkpoints} requests ...")
                phase(peer.name, serving.measured(peer, args, workdir, upstream_base, f"{peer.name}-memory",
                                                  lambda pid, t: serving.measure_memory(args, t, pid)), "memory")
        if "coldstart" not in skip:
            say(f"cold starts ({args.cold_runs} runs each) ...")
            phase("coldstart", lambda: coldstart_phase.measure_coldstart(args, workdir, upstream_base, lite, old))
        if "cost" not in skip:
            say("cost model ...")
            phase("cost", lambda: phases.measure_cost(args, upstream_base, workdir))
        if "profile" not in skip:
            say(f"profile ({args.profile_requests} requests) ...")
            phase("profile", lambda: phases.measure_profile(args, workdir, upstream_base))
    if "layer" not in skip:
        say("layer build ...")
        run_phase(out, errors, "layer", lambda: layer.measure(workdir))
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    args = options.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.machine_info(),
        "config": options.config(args),
        "method": {
            "client": "asyncio workers in the harness process, each with its own keep-alive HTTP/1.1 connection "
                      "to each server (bench/rawhttp.py)",
            "pairs": "each pair sends the same request straight to the fake upstream and through the server, in one "
                     "worker slot, alternating which goes first; added = through - direct per pair",
            "upstream": "bench/upstream.py: raw ASGI under uvicorn, fixed answers built at start-up",
        },
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lambdarouter-bench-") as tmp:
        failed = run(args, Path(tmp), out)
    out["failed_phases"] = failed
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["machine"]["load_average_at_end"] = machine.load_average()
    out["targets"] = report.targets(out)
    if args.baseline:
        out["baseline_comparison"] = report.baseline_comparison(out)
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".tmp")
    partial.write_text(json.dumps(out, indent=2) + "\n")
    partial.replace(output)
    print(report.format_text(out))
    print(f"\nwrote {output}")
    if args.docs is not None:
        report.update_docs(out, args.docs)
        print(f"wrote the generated block of {args.docs}")
    if failed:
        print(f"FAILED phases (their errors are in the report): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
