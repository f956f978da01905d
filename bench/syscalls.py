"""System calls per request of `lambdarouter serve` at concurrency 1, traced with `strace -f`: how many writes,
reads and event-loop wake-ups (`epoll_wait`) a request takes, and how often the event loop waited 5 ms for the GIL,
figures a busy machine cannot move (much).

    .venv/bin/python -m bench.syscalls [--requests 2000] [--concurrency 1] [--src OTHER/src ...]

Wall-clock latency at concurrency 1 on this shared 2-core machine moves by more than the differences being looked
for; the system calls a request makes do not. `epoll_wait` counts the event loop's iterations that asked the kernel
for events (uvloop's libuv polls once per iteration), `futex` the thread hand-offs (the GIL passed between the loop
and SQLite's checkpointer, a thread pool), `sendto`/`write` and `recvfrom`/`read` the socket and file traffic.

Beside the counts, the event loop's own waits for the GIL: a thread that wants the GIL waits on a futex for at most
the interpreter's switch interval (5 ms), then forces the holder to drop it, so each of the loop thread's futex
waits that timed out is a request held up 5 ms by another thread's Python (`loop GIL waits timed out`). strace
slows everything down, so these are counts to compare within one run, not times to quote.

The server is started as the bench starts it (bench/peers.py), warmed up, then every thread of it is traced
(`strace -f -p PID`) only while `--requests` non-streamed requests run at `--concurrency` from the bench's client,
against the bench's fake upstream. Each `--src` is another tree's `src` (a worktree of an older commit) run with
this venv, as `--baseline` runs it; `.` is this tree. Needs `strace` on PATH and ptrace allowed (strace attaches to
a process it did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import latency, trees
from bench.peers import gateway

WARMUP = 300
LOOP_WAITS = "loop futex waits"
LOOP_TIMEOUTS = "loop GIL waits timed out (count)"
SHOWN = ("epoll_wait", "epoll_ctl", "sendto", "write", "writev", "recvfrom", "read", "futex", "getpid",
         "pwrite64", "pread64", "fdatasync", "lseek", "fcntl", "fstat", "newfstatat")


def count(src: str, requests: int, concurrency: int, workdir: Path, upstream_base: str) -> dict[str, float]:
    """System calls per request, by name, of the gateway whose code is `src` ("." for this tree), and the loop
    thread's futex waits (`LOOP_WAITS`) and those that timed out (`LOOP_TIMEOUTS`, a count, not per request)."""
    tag = f"traced-{abs(hash(src))}"
    out = workdir / f"{tag}.strace"
    with gateway(workdir, tag, upstream_base, extra_env=trees.tree_env(src)) as (process, target):
        async def drive() -> None:
            async with latency.new_client(concurrency) as client:
                await latency.load(client, target, WARMUP, concurrency)
                tracer = _attach(process.pid, out)
                try:
                    result = await latency.load(client, target, requests, concurrency)
                finally:
                    tracer.send_signal(signal.SIGINT)  # detach: strace flushes its output and exits
                    tracer.wait(timeout=60)
                if result.errors:
                    raise RuntimeError(f"traced requests failed: {result.first_error}")

        asyncio.run(drive())
        loop_thread = str(process.pid)  # the main thread runs the event loop
    calls, waits, timeouts = _read(out, loop_thread)
    return {**{name: n / requests for name, n in calls.items()}, LOOP_WAITS: waits / requests,
            LOOP_TIMEOUTS: float(timeouts)}


def _attach(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """strace on every thread of `pid` (given the process, strace attaches all its threads, and says so in one
    line: "Process N attached with T threads"), once it is attached; `-f` follows threads started later."""
    tracer = subprocess.Popen(["strace", "-f", "-o", str(out), "-p", str(pid)], stderr=subprocess.PIPE)
    assert tracer.stderr is not None
    line = tracer.stderr.readline()  # strace's first line: attached, or why not
    if b"attached" not in line:
        tracer.kill()
        raise RuntimeError(f"strace could not attach to {pid}: {line.decode(errors='replace')} (ptrace_scope?)")
    return tracer


def _read(out: Path, loop_thread: str) -> tuple[Counter[str], int, int]:
    """Calls per system call name (a call strace split in two, `<unfinished ...>` then `<... resumed>`, counted
    once), the loop thread's futex waits, and how many of them timed out."""
    calls: Counter[str] = Counter()
    waits = timeouts = 0
    for line in out.read_text(errors="replace").splitlines():
        tid, _, call = line.partition(" ")
        if call.startswith(("<...", "+++", "---")) or "(" not in call:
            continue
        name = call.split("(", 1)[0]
        calls[name] += 1
        if tid == loop_thread and name == "futex" and "FUTEX_WAIT" in call:
            waits += 1
    for line in out.read_text(errors="replace").splitlines():  # a wait's result may be on its resumed line
        if line.startswith(loop_thread + " ") and "futex" in line and "ETIMEDOUT" in line:
            timeouts += 1
    return calls, waits, timeouts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.syscalls", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    trees.add_src_argument(parser)
    args = parser.parse_args(argv)
    if not shutil.which("strace"):
        print("strace is not installed", file=sys.stderr)
        return 2
    with trees.upstream("bench-syscalls-") as (workdir, upstream_base):
        tables = {src: count(src, args.requests, args.concurrency, workdir, upstream_base)
                  for src in trees.sources(args)}
    names = sorted({n for t in tables.values() for n in t} - {LOOP_WAITS, LOOP_TIMEOUTS},
                   key=lambda n: (n not in SHOWN, n))
    print(f"{'system call':<16}" + "".join(f"{src[-24:]:>26}" for src in tables))
    for name in names:
        print(f"{name:<16}" + "".join(f"{t.get(name, 0.0):>26.3f}" for t in tables.values()))
    print(f"{'total':<16}" + "".join(f"{sum(t[n] for n in names if n in t):>26.3f}" for t in tables.values()))
    for name in (LOOP_WAITS, LOOP_TIMEOUTS):
        print(name + "".join(f"{t[name]:>26.3f}" for t in tables.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
