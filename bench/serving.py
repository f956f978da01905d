"""The serving phases: added latency (paired requests) and throughput against each server in turn, the upstream
alone as the ceiling, and the memory of a fresh server under a long run. See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import latency
from bench.latency import Target
from bench.peers import Peer
from bench.phase import run_phase, say
from bench.procs import cpu_seconds, pin, rss_bytes, rss_parts, threads
from bench.repeats import median_of


def _connections(args: argparse.Namespace) -> int:
    widest: int = max(args.concurrency, *args.throughput_concurrency, args.memory_concurrency)
    return 2 * widest + 8


async def _throughput(client: Any, target: Target, pid: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Non-streamed at each throughput concurrency, then streamed at the first: requests/s, CPU per request."""
    rows = []
    plan = [(c, args.throughput_requests, 0) for c in args.throughput_concurrency]
    plan.append((args.throughput_concurrency[0], args.stream_throughput_requests, 1))
    for concurrency, count, stream_every in plan:
        await latency.load(client, target, concurrency * 4, concurrency, stream_every)  # warm-up: connections opened
        before = cpu_seconds(pid)
        result = await latency.load(client, target, count, concurrency, stream_every)
        after = cpu_seconds(pid)
        used = after - before if before is not None and after is not None else None
        rows.append({**latency.throughput_report(result, concurrency, used, args.p99_limit_ms),
                     "streamed": bool(stream_every)})
    return rows


def measure_server(args: argparse.Namespace, direct: Target, target: Target, pid: int) -> dict[str, Any]:
    """Concurrency-1 pairs (non-streamed, streamed), concurrent pairs, throughput: one server, one client."""

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with latency.new_client(_connections(args)) as client:
            await latency.check_answers(client, direct, target)
            if "latency" not in args.skip:
                say(f"    concurrency 1: {args.warmup} warm-up + {args.pairs} pairs ...")
                out["c1"] = await latency.paired_completions(client, direct, target, args.pairs, args.warmup, 1)
                say(f"    concurrency 1, streamed: {args.stream_warmup} warm-up + {args.stream_pairs} pairs ...")
                out["c1_streamed"] = await latency.paired_streams(client, direct, target, args.stream_pairs,
                                                                  args.stream_warmup, 1)
                say(f"    concurrency {args.concurrency}: {args.concurrent_warmup} warm-up + "
                     f"{args.concurrent_pairs} pairs ...")
                out[f"c{args.concurrency}"] = await latency.paired_completions(
                    client, direct, target, args.concurrent_pairs, args.concurrent_warmup, args.concurrency)
            if "throughput" not in args.skip:
                say(f"    throughput at {args.throughput_concurrency}: {args.throughput_requests} requests each ...")
                out["throughput"] = await _throughput(client, target, pid, args)
        return out

    return asyncio.run(run())


def measure_direct(args: argparse.Namespace, direct: Target, pid: int) -> dict[str, Any]:
    """The upstream alone at the throughput concurrencies: the ceiling of this machine and client."""

    async def run() -> dict[str, Any]:
        async with latency.new_client(_connections(args)) as client:
            return {"throughput": await _throughput(client, direct, pid, args)}

    return asyncio.run(run())


def measure_memory(args: argparse.Namespace, target: Target, pid: int) -> dict[str, Any]:
    """RSS of a fresh server after its first request and at each checkpoint (one in N requests streamed)."""

    async def run() -> dict[str, Any]:
        points: list[dict[str, Any]] = []
        done = 0
        errors = 0
        first_error: str | None = None
        async with latency.new_client(_connections(args)) as client:
            await latency.load(client, target, 1, 1)
            first = rss_bytes(pid)
            started = time.perf_counter()
            for checkpoint in args.memory_checkpoints:
                result = await latency.load(client, target, checkpoint - done, args.memory_concurrency,
                                            args.memory_stream_every)
                errors += result.errors
                done = checkpoint
                rss = rss_bytes(pid)
                points.append({"requests": checkpoint, "rss_mb": round(rss / 1e6, 2) if rss is not None else None,
                               "seconds": round(time.perf_counter() - started, 1),
                               **{f"{k.lower()}_mb": round(v / 1e6, 2) for k, v in rss_parts(pid).items()},
                               "threads": threads(pid)})
                first_error = first_error or result.first_error
        growth = None
        if len(points) > 1 and points[0]["rss_mb"] is not None and points[-1]["rss_mb"] is not None:
            growth = round(points[-1]["rss_mb"] - points[0]["rss_mb"], 2)
        return {"unit": "MB = 10^6 bytes of VmRSS (/proc/<pid>/status), the server and any processes it started",
                "concurrency": args.memory_concurrency, "stream_every": args.memory_stream_every,
                "rss_after_first_request_mb": round(first / 1e6, 2) if first is not None else None,
                "checkpoints": points, "growth_mb": growth, "errors": errors, "first_error": first_error}

    return asyncio.run(run())


def measured(peer: Peer, args: argparse.Namespace, workdir: Path, upstream_base: str, tag: str,
              what: Callable[[int, Target], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """A phase: a fresh server of `peer` (on its own core with --pin), measured by `what`, then stopped."""
    def go() -> dict[str, Any]:
        with peer.start(workdir, tag, upstream_base) as (process, target):
            pinned = pin(process.pid, {1}) if args.pin else False
            return {**what(process.pid, target), "pinned_to_cpu": 1 if pinned else None}
    return go


def run_serving(args: argparse.Namespace, workdir: Path, upstream_base: str, direct: Target,
                servers: list[Peer], out: dict[str, Any], errors: list[str]) -> None:
    """Latency and throughput: `--repeats` rounds, the peers in turn within each round; medians per figure."""
    rounds: dict[str, list[dict[str, Any]]] = {p.name: [] for p in servers}
    for index in range(args.repeats):
        for peer in servers:
            say(f"{peer.label}, round {index + 1} of {args.repeats} ...")
            one: dict[str, Any] = {}
            run_phase(one, errors, peer.name, measured(peer, args, workdir, upstream_base, f"{peer.name}-{index}",
                                                     lambda pid, t: measure_server(args, direct, t, pid)))
            rounds[peer.name].append(one[peer.name])
    for peer in servers:
        good = [r for r in rounds[peer.name] if "error" not in r]
        merged = median_of(good) if good else rounds[peer.name][-1]
        out.setdefault(peer.name, {}).update({**peer.setup, **merged, "repeats": len(good)})
