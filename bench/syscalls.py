"""System calls per request of `lambdarouter serve` at concurrency 1, counted by `strace -f -c`: how many writes,
reads and event-loop wake-ups (`epoll_wait`) a request takes, a figure a busy machine cannot move.

    .venv/bin/python -m bench.syscalls [--requests 2000] [--concurrency 1] [--src OTHER/src ...]

Wall-clock latency at concurrency 1 on this shared 2-core machine moves by more than the differences being looked
for; the system calls a request makes do not. `epoll_wait` counts the event loop's iterations that asked the kernel
for events (uvloop's libuv polls once per iteration), `futex` the thread hand-offs (a thread pool, SQLite's
checkpointer), `sendto`/`write` and `recvfrom`/`read` the socket and file traffic. The server is started as the
bench starts it (bench/peers.py), warmed up, then every thread of it is traced (`strace -f -c -p ...`) only while
`--requests` non-streamed requests run at `--concurrency` from the bench's client, against the bench's fake
upstream. Each `--src` is another tree's `src` (a worktree of an older commit) run with this venv, as `--baseline`
runs it; `.` is this tree. Needs `strace` on PATH and ptrace allowed (`kernel.yama.ptrace_scope` 0 or 1 for a
child of the same user: strace attaches to a process it did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import latency
from bench.peers import gateway
from bench.procs import ROOT, child_env, free_port, python, server

WARMUP = 300
SHOWN = ("epoll_wait", "epoll_ctl", "sendto", "write", "writev", "recvfrom", "read", "futex", "getpid",
         "pwrite64", "pread64", "fdatasync", "lseek", "fcntl", "fstat", "newfstatat")


def count(src: str, requests: int, concurrency: int, workdir: Path, upstream_base: str) -> dict[str, float]:
    """System calls per request, by name, of the gateway whose code is `src` ("." for this tree)."""
    tag = f"traced-{abs(hash(src))}"
    out = workdir / f"{tag}.strace"
    extra = {} if src == "." else {"PYTHONPATH": str(Path(src).resolve())}
    with gateway(workdir, tag, upstream_base, extra_env=extra) as (process, target):
        async def drive() -> None:
            async with latency.new_client(concurrency) as client:
                await latency.load(client, target, WARMUP, concurrency)
                tracer = _attach(process.pid, out)
                try:
                    result = await latency.load(client, target, requests, concurrency)
                finally:
                    tracer.send_signal(signal.SIGINT)  # detach: strace writes its summary and exits
                    tracer.wait(timeout=60)
                if result.errors:
                    raise RuntimeError(f"traced requests failed: {result.first_error}")

        asyncio.run(drive())
    return {name: calls / requests for name, calls in _summary(out).items()}


def _attach(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """strace on every thread of `pid` (given the process, strace attaches all its threads, and says so in one
    line: "Process N attached with T threads"), once it is attached; `-f` follows threads started later."""
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out), "-p", str(pid)], stderr=subprocess.PIPE)
    assert tracer.stderr is not None
    line = tracer.stderr.readline()  # strace's first line: attached, or why not
    if b"attached" not in line:
        tracer.kill()
        raise RuntimeError(f"strace could not attach to {pid}: {line.decode(errors='replace')} (ptrace_scope?)")
    return tracer


def _summary(out: Path) -> dict[str, int]:
    """`strace -c`'s table: calls per system call name (the `total` row dropped)."""
    calls: dict[str, int] = {}
    for line in out.read_text(errors="replace").splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0].replace(".", "").isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.syscalls", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--src", action="append", help="another tree's src (repeat; '.' is this tree)")
    args = parser.parse_args(argv)
    if not shutil.which("strace"):
        print("strace is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-syscalls-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        argv_upstream = [python(), str(ROOT / "bench" / "upstream.py"), "--port", str(port)]
        with server("upstream", argv_upstream, child_env({}), f"http://127.0.0.1:{port}/health", workdir):
            tables = {src: count(src, args.requests, args.concurrency, workdir, f"http://127.0.0.1:{port}/v1")
                      for src in args.src or ["."]}
    names = sorted({n for t in tables.values() for n in t}, key=lambda n: (n not in SHOWN, n))
    print(f"{'system call':<16}" + "".join(f"{src[-24:]:>26}" for src in tables))
    for name in names:
        print(f"{name:<16}" + "".join(f"{t.get(name, 0.0):>26.3f}" for t in tables.values()))
    print(f"{'total':<16}" + "".join(f"{sum(t.values()):>26.3f}" for t in tables.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
