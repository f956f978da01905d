"""`python bench/timeline_launcher.py serve ...`: `lambdarouter serve` recording, for bench/timeline.py, when each
request ran on the server (from the ASGI call to the end of its answer) and when the background work that can hold
it up ran: SQLite's checkpointer (its checkpoint and its roll-up of the ledger) and the garbage collector. The
events go to $LAMBDAROUTER_BENCH_TIMELINE_OUT as JSON when the server stops: `[kind, start, end]` in
`time.perf_counter()` seconds. Runs an older tree too (`lambdarouter.cli` before the layout of issue 16; no
checkpointer there)."""

import gc
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

EVENTS: list[tuple[str, float, float]] = []
clock = time.perf_counter


def _exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def timed(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return function(*args, **kwargs)
        finally:
            EVENTS.append((kind, start, clock()))
    return wrapper


def record_background() -> None:
    started: list[float] = [0.0]

    def collector(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = clock()
        else:
            EVENTS.append((f"gc{info['generation']}", started[0], clock()))

    gc.callbacks.append(collector)
    try:
        from lambdarouter.store import sqlite, sqlite_wal
    except ImportError:
        return
    sqlite_wal.Checkpointer.checkpoint = timed("checkpoint", sqlite_wal.Checkpointer.checkpoint)  # type: ignore[method-assign]
    sqlite.SQLiteStore._rolled_up = timed("roll-up", sqlite.SQLiteStore._rolled_up)  # type: ignore[method-assign]


def record_requests() -> None:
    from lambdarouter.http import app as app_module

    create_app = app_module.create_app

    def timed_app(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        build = app.build_middleware_stack

        def stack() -> Any:
            inner = build()

            async def asgi(scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] != "http" or scope["method"] != "POST":  # not the readiness checks
                    return await inner(scope, receive, send)
                start = clock()
                try:
                    await inner(scope, receive, send)
                finally:
                    EVENTS.append(("request", start, clock()))
            return asgi

        app.build_middleware_stack = stack  # type: ignore[method-assign]
        return app

    app_module.create_app = timed_app


def main(argv: list[str]) -> int:
    record_background()
    record_requests()
    try:
        from lambdarouter.admin.cli import main as cli
    except ImportError:  # an older tree's layout
        from lambdarouter.cli import main as cli  # type: ignore[import-not-found,no-redef]
    signal.signal(signal.SIGTERM, _exit)
    try:
        return int(cli(argv))
    finally:
        with open(os.environ["LAMBDAROUTER_BENCH_TIMELINE_OUT"], "w") as out:
            json.dump(EVENTS, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
