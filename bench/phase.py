"""One phase of a run: progress on stderr, and a failure recorded in the report while the other phases go on."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_phase(out: dict[str, Any], errors: list[str], name: str, what: Callable[[], dict[str, Any]],
              into: str | None = None) -> None:
    """Run one phase into `out[name]` (or `out[name][into]`); a failure is recorded there and the run goes on."""
    try:
        result = what()
    except Exception as exc:  # every phase is independent: keep the others' figures
        message = f"{type(exc).__name__}: {exc}"[-4000:]
        result = {"error": message}
        errors.append(f"{name}{'.' + into if into else ''}")
        say(f"  {name} failed: {message.splitlines()[0] if message else ''}")
    if into is None:
        out.setdefault(name, {}).update(result)
    else:
        out.setdefault(name, {})[into] = result
