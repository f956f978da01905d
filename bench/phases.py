"""The cost model (bench/cost.py: the app in-process, DynamoDB on moto) and the profile of a served gateway
(bench/profiling.py): two phases of a run. See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from bench import cost, latency, profiling
from bench.latency import Target
from bench.peers import gateway, gateway_env


def measure_profile(args: argparse.Namespace, workdir: Path, upstream_base: str) -> dict[str, Any]:
    dump = workdir / "gateway.prof"
    workers = args.profile_concurrency
    streamed = 1 if args.profile_streamed else 0  # `load` streams one request in `streamed`: every one, or none

    async def drive(target: Target, pid: int) -> None:
        async with latency.new_client(max(8, workers)) as client:
            await latency.load(client, target, max(50, args.profile_requests // 10), workers, streamed)
            os.kill(pid, signal.SIGUSR1)  # the launcher starts profiling now
            await asyncio.sleep(0.05)
            result = await latency.load(client, target, args.profile_requests, workers, streamed)
            if result.errors:
                raise RuntimeError(f"profiled requests failed: {result.first_error}")

    with gateway(workdir, "gateway-profiled", upstream_base, profiling.LAUNCHER,
                 {profiling.OUTPUT_ENV: str(dump)}) as (process, target):
        asyncio.run(drive(target, process.pid))
    if not dump.exists():
        raise RuntimeError("the profiled gateway wrote no profile")
    kind = "streamed" if streamed else "non-streamed"
    return {"method": f"cProfile in the `lambdarouter serve` process (event-loop thread), concurrency {workers}, "
                      f"{kind}, after a warm-up; self time per request by component",
            **profiling.aggregate(dump, args.profile_requests)}


def measure_cost(args: argparse.Namespace, upstream_base: str, workdir: Path) -> dict[str, Any]:
    env = gateway_env(workdir, "cost", upstream_base)
    errors: dict[str, str] = {}
    timing: dict[str, Any] | None = None
    dynamo: dict[str, Any] | None = None
    try:
        timing = cost.run_probe("timing", upstream_base, env, args.cost_requests)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        errors["timing"] = str(exc)[-1500:]
    try:
        dynamo = cost.run_probe("dynamodb", upstream_base, env,
                                extra=("--first-byte-requests", str(max(5, args.cost_requests // 20))))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        errors["dynamodb"] = str(exc)[-1500:]
    out = cost.model(cost.template_memory_mb(), timing, dynamo)
    if errors:
        out["errors"] = errors
    return out
