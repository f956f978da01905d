"""`python bench/profile_launcher.py serve ...`: `lambdarouter serve` under cProfile (see bench/profiling.py).

Profiling starts at SIGUSR1 (the harness sends it after a warm-up, so start-up and first-request costs stay
out), and the dump goes to $LAMBDAROUTER_BENCH_PROFILE_OUT when the server stops. uvicorn re-raises the
SIGTERM it caught after its graceful shutdown; the handler installed here turns that into SystemExit, so
the `finally` below still writes the dump.
"""

import cProfile
import os
import signal
import sys
from types import FrameType


def _exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    from lambdarouter.admin.cli import main as cli

    profiler = cProfile.Profile()

    def start(_signum: int, _frame: FrameType | None) -> None:
        profiler.enable()  # runs on the main thread: the event loop's

    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGUSR1, start)
    try:
        return cli(argv)
    finally:
        profiler.disable()
        profiler.dump_stats(os.environ["LAMBDAROUTER_BENCH_PROFILE_OUT"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
