"""Which background work the slowest requests at concurrency 1 overlapped: a per-request timeline of `lambdarouter
serve` beside SQLite's checkpointer (checkpoint, roll-up of the ledger) and the garbage collector.

    .venv/bin/python -m bench.timeline [--requests 6000] [--src OTHER/src ...]

The server runs under bench/timeline_launcher.py, which records when each request ran on it and when each piece of
background work ran; the bench's client sends `--requests` non-streamed requests one at a time after a warm-up.
Printed per tree: the server-side p50 and p99, then per kind of background work how often it ran, how long, how
many of the slowest 1 % overlapped it and how many requests in all did. Wall-clock figures move with the machine's
load; what to read is the share of the slowest 1 % that overlap a kind of work against its share of all requests.
Each `--src` is another tree's `src` run with this venv ('.' is this tree), as bench.instructions runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench import latency, trees
from bench.peers import gateway

LAUNCHER = Path(__file__).resolve().parent / "timeline_launcher.py"
OUTPUT_ENV = "LAMBDAROUTER_BENCH_TIMELINE_OUT"
WARMUP = 300
Span = tuple[float, float]


def record(src: str, requests: int, workdir: Path, upstream_base: str) -> list[tuple[str, float, float]]:
    """The events of a server whose code is `src` ("." for this tree), from the first measured request on."""
    tag = f"timeline-{abs(hash(src))}"
    out = workdir / f"{tag}.json"
    extra = {OUTPUT_ENV: str(out), **trees.tree_env(src)}
    with gateway(workdir, tag, upstream_base, LAUNCHER, extra) as (_, target):
        async def drive() -> None:
            async with latency.new_client(1) as client:
                await latency.load(client, target, WARMUP, 1)
                result = await latency.load(client, target, requests, 1)
                if result.errors:
                    raise RuntimeError(f"requests failed: {result.first_error}")

        asyncio.run(drive())
    events = [(str(kind), float(start), float(end)) for kind, start, end in json.loads(out.read_text())]
    first = sorted(start for kind, start, _ in events if kind == "request")[WARMUP]
    return [event for event in events if event[1] >= first]


def report(events: list[tuple[str, float, float]]) -> list[str]:
    requests = [(start, end) for kind, start, end in events if kind == "request"]
    durations = sorted(end - start for start, end in requests)
    cut = durations[int(len(durations) * 0.99)]
    slowest = [span for span in requests if span[1] - span[0] >= cut]
    lines = [f"  {len(requests)} requests, on the server: p50 {durations[len(durations) // 2] * 1e3:.3f} ms, "
             f"p99 {cut * 1e3:.3f} ms, max {durations[-1] * 1e3:.3f} ms"]
    for kind in sorted({kind for kind, _, _ in events} - {"request"}):
        spans = [(start, end) for k, start, end in events if k == kind]
        lengths = sorted(end - start for start, end in spans)

        def overlaps(request: Span, spans: list[Span] = spans) -> bool:
            return any(start < request[1] and request[0] < end for start, end in spans)

        lines.append(f"  {kind:<10} ran {len(spans):>4} times, median {lengths[len(lengths) // 2] * 1e3:7.3f} ms, "
                     f"max {lengths[-1] * 1e3:7.3f} ms; overlapped by {sum(map(overlaps, slowest)):>3} of the "
                     f"slowest {len(slowest)} and {sum(map(overlaps, requests)):>4} of all requests")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    trees.add_src_argument(parser)
    args = parser.parse_args(argv)
    with trees.upstream("bench-timeline-") as (workdir, upstream_base):
        for src in trees.sources(args):
            print(src, *report(record(src, args.requests, workdir, upstream_base)), sep="\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
