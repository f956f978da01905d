"""Child processes of the harness: started with their output in log files, always stopped."""

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
def server(name: str, argv: Sequence[str], env: Mapping[str, str], ready_url: str, log_dir: Path) -> Iterator[None]:
    """Run `argv` until the block ends; the block starts once `ready_url` answers 200."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(list(argv), cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    try:
        _wait_ready(name, process, ready_url, log)
        yield
    finally:
        stop(process)


def _wait_ready(name: str, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
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
    raise RuntimeError(f"{name} was not ready at {url} after {STARTUP_TIMEOUT:.0f} s:\n{tail(log)}")


def run_json(argv: Sequence[str], env: Mapping[str, str], timeout: float = 60.0) -> object:
    """Run a short command and parse the JSON it prints."""
    import json

    done = subprocess.run(list(argv), cwd=ROOT, env=dict(env), capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode(errors='replace')}")
    return json.loads(done.stdout)


def python() -> str:
    return sys.executable
