"""Entry point: ``.venv/bin/python -m bench`` or ``python bench/run.py`` from anywhere (``--help``).

Run as a script with an interpreter that lacks the project's dependencies, it re-executes itself with the
repository's ``.venv/bin/python`` when there is one.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_REEXEC_FLAG = "LAMBDAROUTER_BENCH_REEXEC"


def main(argv: Sequence[str] | None = None) -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.harness import main as run

    return run(argv)


def _has_dependencies() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("lambdarouter", "httpx", "uvicorn"))


if __name__ == "__main__":
    if not _has_dependencies():
        venv_python = ROOT / ".venv" / "bin" / "python"
        if venv_python.exists() and not os.environ.get(_REEXEC_FLAG):
            os.execve(venv_python, [str(venv_python), __file__, *sys.argv[1:]], {**os.environ, _REEXEC_FLAG: "1"})
        sys.exit(f"{sys.executable} cannot import lambdarouter, httpx and uvicorn: run `.venv/bin/python -m bench`.")
    sys.exit(main())
