"""Where a gateway request spends its time: `lambdarouter serve` under cProfile, summed by component.

The harness runs bench/profile_launcher.py in place of `python -m lambdarouter` (the same `serve`
arguments), sends it a fixed number of non-streamed requests, stops it, and reads the dump: self time
(tottime) summed by package or stdlib module, per request. cProfile sees the event-loop thread only: the
store's SQLite calls run in worker threads (anyio.to_thread) and show up as the loop waiting for them
(inside `epoll.poll`), not as SQLite time. Profiling slows everything down (~2x), so read the shares,
not the absolute times.
"""

from __future__ import annotations

import pstats
from pathlib import Path
from typing import Any

LAUNCHER = Path(__file__).resolve().parent / "profile_launcher.py"
OUTPUT_ENV = "LAMBDAROUTER_BENCH_PROFILE_OUT"
WAIT_FUNCTIONS = ("<method 'poll' of 'select.epoll' objects>", "<method 'select' of 'select.select' objects>",
                  "<method 'control' of 'select.kqueue' objects>")


def component(filename: str, function: str) -> str:
    if function in WAIT_FUNCTIONS:
        return "waiting in the event loop (I/O, worker threads)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/src/lambdarouter/" in filename:
        return "lambdarouter/" + filename.split("/src/lambdarouter/", 1)[1]
    if "/lambdarouter/" in filename:
        return "lambdarouter/" + filename.rsplit("/lambdarouter/", 1)[1]
    if filename == "~" or filename.startswith("<"):
        return "builtins (C functions: socket calls, json, hashing, ...)"
    parts = Path(filename).parts
    if "asyncio" in parts:
        return "stdlib asyncio"
    return "stdlib " + Path(filename).name


def aggregate(dump: Path, requests: int, top: int = 25) -> dict[str, Any]:
    stats = pstats.Stats(str(dump))
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    by_component: dict[str, float] = {}
    functions: list[tuple[float, int, str]] = []
    for (filename, line, function), (_cc, calls, own, _cum, _callers) in table.items():
        name = component(filename, function)
        by_component[name] = by_component.get(name, 0.0) + own
        if name != "waiting in the event loop (I/O, worker threads)":
            functions.append((own, calls, f"{_short(filename)}:{line}({function})"))
    busy = sum(v for k, v in by_component.items() if not k.startswith("waiting"))
    rows = sorted(by_component.items(), key=lambda kv: kv[1], reverse=True)
    functions.sort(reverse=True)
    per = max(requests, 1)
    return {
        "requests": requests,
        "busy_ms_per_request": round(busy * 1000 / per, 4),
        "by_component": [{"component": k, "ms_per_request": round(v * 1000 / per, 4),
                          "share_of_busy": round(v / busy, 4) if busy and not k.startswith("waiting") else None}
                         for k, v in rows[:30]],
        "top_functions": [{"function": name, "ms_per_request": round(own * 1000 / per, 4),
                           "calls_per_request": round(calls / per, 2)} for own, calls, name in functions[:top]],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
