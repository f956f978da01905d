"""What the per-tree A/B tools share (bench.instructions, bench.syscalls, bench.timeline): `--src` trees, each run
with this venv as `--baseline` runs an old commit, in front of one fake upstream in a temporary directory."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.procs import ROOT, child_env, free_port, python, server


def add_src_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--src", action="append", help="another tree's src (repeat; '.' is this tree)")


def sources(args: argparse.Namespace) -> list[str]:
    return list(args.src or ["."])


def tree_env(src: str) -> dict[str, str]:
    """The environment that runs the tree `src` ("." for this one, the venv's editable install)."""
    return {} if src == "." else {"PYTHONPATH": str(Path(src).resolve())}


@contextmanager
def upstream(prefix: str) -> Iterator[tuple[Path, str]]:
    """A temporary working directory and the bench's fake upstream running in it: (workdir, its base URL)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        port = free_port()
        argv = [python(), str(ROOT / "bench" / "upstream.py"), "--port", str(port)]
        with server("upstream", argv, child_env({}), f"http://127.0.0.1:{port}/health", workdir):
            yield workdir, f"http://127.0.0.1:{port}/v1"
