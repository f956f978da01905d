"""Instructions per request of `lambdarouter serve`, counted by valgrind's callgrind: an A/B figure a busy machine
cannot move.

    .venv/bin/python -m bench.instructions [--requests 600] [--concurrency 32] [--src OTHER/src ...]

CPU time per request on this 2-core machine, shared with other engineers' benchmarks, moved by ±25 % between two
runs of the same code; callgrind counts the user-space instructions the server's process executes (every thread),
which the machine's load does not change (±0.5 % between runs). It does not see the kernel's share (the socket
calls, SQLite's file writes) nor cache misses, so it ranks changes to the work Python does, and the bench's
CPU-per-request figure stays the one to report. The server starts under callgrind with instrumentation off (about
5x slower, so start-up takes seconds), is warmed up, and is counted only for `--requests` non-streamed requests at
`--concurrency` from the bench's client, against the bench's fake upstream. Each `--src` is another tree's `src`
(a worktree of an older commit), run with this venv the way `--baseline` runs it; `.` is this tree. Needs
`valgrind` and `callgrind_control` on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

from bench import latency, procs, trees
from bench.peers import gateway

LAUNCHER = Path(__file__).resolve().parent / "callgrind_launcher.py"
OUTPUT_ENV = "LAMBDAROUTER_BENCH_CALLGRIND_OUT"
WARMUP = 300


def count(src: str, requests: int, concurrency: int, workdir: Path, upstream_base: str) -> dict[str, float]:
    """Instructions per request (millions) of the gateway whose code is `src` ("." for this tree), by thread: the
    event loop's (the request path) and each other one (SQLite's checkpointer, worker threads)."""
    dump = workdir / f"callgrind-{abs(hash(src))}.out"
    extra = {OUTPUT_ENV: str(dump), **trees.tree_env(src)}
    with gateway(workdir, f"counted-{abs(hash(src))}", upstream_base, LAUNCHER, extra) as (process, target):
        async def drive() -> None:
            async with latency.new_client(concurrency) as client:
                await latency.load(client, target, WARMUP, concurrency)
                _control("-i", "on", process.pid)
                result = await latency.load(client, target, requests, concurrency)
                _control("-i", "off", process.pid)
                if result.errors:
                    raise RuntimeError(f"counted requests failed: {result.first_error}")

        asyncio.run(drive())
    threads = {path.name.rsplit("-", 1)[-1]: _totals(path) / requests / 1e6
               for path in sorted(workdir.glob(f"{dump.name}-*"))}
    if not threads:
        raise RuntimeError(f"callgrind wrote no {dump}-NN (see {workdir}/counted-*.log)")
    return {("loop" if number == "01" else f"thread {number}"): value for number, value in threads.items()}


def _control(*args: object) -> None:
    subprocess.run(["callgrind_control", *map(str, args)], check=True, capture_output=True, timeout=120)


def _totals(dump: Path) -> int:
    """The `totals:` of one thread's dump callgrind writes when the server exits (instrumentation was on only
    while counting); a thread that ran nothing counted has only its header's `summary:`."""
    lines = dump.read_text(errors="replace").splitlines()
    for prefix in ("totals:", "summary:"):
        for line in lines:
            if line.startswith(prefix):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    trees.add_src_argument(parser)
    args = parser.parse_args(argv)
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("valgrind (callgrind) is not installed", file=sys.stderr)
        return 2
    procs.STARTUP_TIMEOUT = max(procs.STARTUP_TIMEOUT, 300.0)  # imports run ~5x slower under valgrind
    procs.STOP_TIMEOUT = max(procs.STOP_TIMEOUT, 120.0)  # and the dumps are written at exit: no SIGKILL before
    with trees.upstream("bench-instructions-") as (workdir, upstream_base):
        for src in trees.sources(args):
            threads = count(src, args.requests, args.concurrency, workdir, upstream_base)
            split = ", ".join(f"{name} {value:.3f}" for name, value in threads.items() if value >= 0.0005)
            print(f"{sum(threads.values()):.3f} M instructions per request ({split})  ({src})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
