"""Child processes of the harness: started with their output in log files, always stopped; their RSS and CPU."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
# Provider settings a developer may have exported: the benchmark's children must not see them, so the
# gateway routes `openai/gpt-4o` to the fake upstream and nowhere else.
_SCRUBBED_SUFFIXES = ("_API_KEY", "_BASE_URL", "_ENDPOINT", "_ENDPOINT_URL")
_SCRUBBED_PREFIXES = ("LAMBDAROUTER_", "AWS_ENDPOINT_URL")


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the harness dies, however it dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.endswith(_SCRUBBED_SUFFIXES) and not name.startswith(_SCRUBBED_PREFIXES)}
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after a grace period; always reaped."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def server(name: str, argv: Sequence[str], env: Mapping[str, str], ready_url: str, log_dir: Path,
           startup_timeout: float | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` until the block ends; the block starts once `ready_url` answers 200."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(list(argv), cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    try:
        # The module's STARTUP_TIMEOUT as it is now: bench.instructions raises it for servers under valgrind.
        _wait_ready(name, process, ready_url, log, STARTUP_TIMEOUT if startup_timeout is None else startup_timeout)
        yield process
    finally:
        stop_tree(process)


def stop_tree(process: subprocess.Popen[bytes]) -> None:
    """`stop` the process, then whatever it started that is still there (a proxy's worker processes)."""
    children = descendants(process.pid) if process.poll() is None else []
    stop(process)
    for pid in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _wait_ready(name: str, process: subprocess.Popen[bytes], url: str, log: Path,
                timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} before it was ready:\n{tail(log)}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{name} was not ready at {url} after {timeout:.0f} s:\n{tail(log)}")


def run_json(argv: Sequence[str], env: Mapping[str, str], timeout: float = 60.0) -> object:
    """Run a short command and parse the JSON it prints."""
    import json

    done = subprocess.run(list(argv), cwd=ROOT, env=dict(env), capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode(errors='replace')}")
    return json.loads(done.stdout)


def python() -> str:
    return sys.executable


# -- what a running process uses (Linux /proc; None elsewhere) ----------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    queue = [pid]
    while queue and len(found) < 10_000:  # bounded: a process tree is finite
        for child in parents.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def rss_bytes(pid: int, tree: bool = True) -> int | None:
    """Resident set size (VmRSS) of `pid`, plus its descendants' when `tree`."""
    total = 0
    for one in [pid, *(descendants(pid) if tree else [])]:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (OSError, ValueError):
            if one == pid:
                return None
    return total


def rss_parts(pid: int) -> dict[str, int]:
    """RssAnon (heap, stacks), RssFile (mapped files: libraries, SQLite's -shm) and RssShmem of one process."""
    parts: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile", "RssShmem"):
                parts[name] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        pass
    return parts


def threads(pid: int) -> int | None:
    try:
        return len(list(Path(f"/proc/{pid}/task").iterdir()))
    except OSError:
        return None


def cpu_seconds(pid: int, tree: bool = True) -> float | None:
    """User + system CPU time of `pid` (all its threads), plus its descendants' when `tree`."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for one in [pid, *(descendants(pid) if tree else [])]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            if one == pid:
                return None
    return total


def pin(pid: int, cpus: set[int], tree: bool = True) -> bool:
    """Every thread of `pid` (and of its descendants) onto `cpus`; False where the OS does not allow it.

    `sched_setaffinity(pid)` moves one thread only: a node or uvicorn process has several by the time it
    answers, so each task in /proc/<pid>/task is moved (threads started later inherit it)."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    moved = False
    for one in [pid, *(descendants(pid) if tree else [])]:
        try:
            tasks = [int(t.name) for t in Path(f"/proc/{one}/task").iterdir()]
        except OSError:
            tasks = [one]
        for task in tasks:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(task, cpus)
                moved = True
    return moved
