"""The options of `python -m bench`: what runs, at which sizes (`--quick` for smaller ones). See bench/README.md."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import litellm_proxy
from bench.procs import ROOT

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
DOCS = ROOT / "docs" / "performance.md"
DESCRIPTION = ("The benchmark run: one fake upstream; the gateway, Portkey's gateway and LiteLLM's proxy in front of "
               "it in turn; cold starts, memory, the layer's size and the cost model. See bench/README.md.")
PHASES = ("latency", "throughput", "memory", "coldstart", "cost", "layer", "profile")
# name: (full run, --quick)
SIZES: dict[str, tuple[Any, Any]] = {
    "pairs": (2000, 200),
    "warmup": (200, 30),
    "stream_pairs": (500, 50),
    "stream_warmup": (50, 10),
    "concurrent_pairs": (3200, 640),
    "concurrent_warmup": (320, 64),
    "throughput_requests": (4000, 1000),
    "stream_throughput_requests": (2000, 500),
    "repeats": (3, 1),
    "memory_checkpoints": ("1000,10000", "500,2000"),
    "cold_runs": (11, 7),
    "cost_requests": (1000, 200),
    "profile_requests": (3000, 0),
}


def _ints(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"need positive integers: {text!r}")
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION)
    add = parser.add_argument
    add("--quick", action="store_true", help="smaller counts everywhere (no profile)")
    add("--pairs", type=int, help="non-streamed pairs at concurrency 1 (2000; quick 200)")
    add("--warmup", type=int, help="unrecorded pairs before them (200; quick 30)")
    add("--stream-pairs", type=int, help="streamed pairs at concurrency 1 (500; quick 50)")
    add("--stream-warmup", type=int, help="unrecorded streamed pairs before them (50; quick 10)")
    add("--concurrency", type=int, default=32, help="workers for the concurrent pairs (32)")
    add("--concurrent-pairs", type=int, help="non-streamed pairs at --concurrency (3200; quick 640)")
    add("--concurrent-warmup", type=int, help="unrecorded concurrent pairs before them (320; quick 64)")
    add("--throughput-concurrency", type=_ints, default=[32, 128], help="comma-separated (32,128)")
    add("--throughput-requests", type=int, help="requests at each throughput concurrency (4000; quick 1000)")
    add("--stream-throughput-requests", type=int,
        help="streamed requests at the first throughput concurrency (2000; quick 500)")
    add("--repeats", type=int,
        help="rounds of the latency and throughput phases, peers interleaved; medians (3; quick 1)")
    add("--pin", action=argparse.BooleanOptionalAction, default=None,
        help="client and upstream on CPU 0, the server under test on CPU 1 (default: when 2+ cores are usable)")
    add("--no-portkey", action="store_true", help="skip Portkey's gateway (no npm install, no comparison)")
    add("--p99-limit-ms", type=float, default=50.0, help="throughput counts while p99 stays under this (50)")
    add("--memory-checkpoints", type=_ints, help="request counts at which RSS is read (1000,10000; quick 500,2000)")
    add("--memory-concurrency", type=int, default=8, help="workers for the memory run (8)")
    add("--memory-stream-every", type=int, default=10, help="one request in N streamed in the memory run (10)")
    add("--cold-runs", "--import-runs", type=int, help="fresh interpreters per cold-start probe (11; quick 7)")
    add("--coldstart-from", choices=["layer", "venv"], default="layer",
        help="functions import from the layer built for this machine (as on Lambda; needs PyPI) or this venv")
    add("--no-coldstart-aws", dest="coldstart_aws", action="store_false",
        help="skip the cold starts in the AWS configuration (moto server for DynamoDB and Secrets Manager)")
    add("--cost-requests", type=int, help="in-process requests timed for the cost model (1000; quick 200)")
    add("--profile-requests", type=int, help="requests profiled under cProfile, 0 for none (3000; quick 0)")
    add("--profile-streamed", action="store_true", help="profile streamed requests instead of non-streamed ones")
    add("--profile-concurrency", type=int, default=1, help="workers sending the profiled requests (1)")
    add("--stream-chunks", type=int, default=16, help="content chunks per streamed answer (16)")
    add("--no-litellm", action="store_true", help="skip LiteLLM (no install, no comparison)")
    add("--litellm-venv", type=Path, default=litellm_proxy.DEFAULT_VENV, help="its environment (made if missing)")
    add("--litellm-spec", default=litellm_proxy.DEFAULT_SPEC, help="what pip installs there ('litellm[proxy]')")
    add("--skip", default="", help=f"comma-separated phases to skip: {', '.join(PHASES)}")
    add("--gateway-launcher", type=Path,
        help="a Python script run instead of `-m lambdarouter` for `serve` (to A/B a variant)")
    add("--baseline", metavar="REV",
        help="also measure lambdarouter at this git revision (a detached worktree), beside the gateway")
    add("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON report (default {DEFAULT_OUTPUT})")
    add("--docs", type=Path, help="the page whose generated block gets this run's tables "
                                  "(default: docs/performance.md when --output is the default)")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            value = quick if args.quick else full
            setattr(args, name, _ints(value) if name == "memory_checkpoints" else value)
    for name in ("pairs", "stream_pairs", "concurrent_pairs", "throughput_requests", "stream_throughput_requests",
                 "repeats", "cold_runs", "cost_requests", "stream_chunks", "concurrency", "memory_concurrency",
                 "profile_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("warmup", "stream_warmup", "concurrent_warmup", "profile_requests", "memory_stream_every"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} cannot be negative")
    args.skip = {p.strip() for p in args.skip.split(",") if p.strip()}
    unknown = args.skip - set(PHASES)
    if unknown:
        parser.error(f"unknown phases in --skip: {sorted(unknown)} (known: {', '.join(PHASES)})")
    if args.profile_requests == 0:
        args.skip.add("profile")
    if args.docs is None and args.output == DEFAULT_OUTPUT:
        args.docs = DOCS
    if args.pin is None:
        args.pin = len(os.sched_getaffinity(0)) >= 2 if hasattr(os, "sched_getaffinity") else False
    return args


def config(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings as the report records them."""
    names = [*SIZES, "concurrency", "throughput_concurrency", "p99_limit_ms", "memory_concurrency",
             "memory_stream_every", "stream_chunks", "quick", "no_litellm", "no_portkey", "pin", "coldstart_from",
             "coldstart_aws", "baseline"]
    out = {name: getattr(args, name) for name in names}
    out["skip"] = sorted(args.skip)
    out["gateway_launcher"] = str(args.gateway_launcher) if args.gateway_launcher else None
    return out
