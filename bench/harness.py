"""The benchmark run: one fake upstream; the gateway and LiteLLM's proxy in front of it in turn; cold starts,
memory, the layer's size and the cost model. See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    coldstart,
    coldstart_deployed,
    cost,
    latency,
    layer,
    litellm_proxy,
    peers,
    portkey_gateway,
    profiling,
    report,
)
from bench.latency import UPSTREAM_MODEL, Target, make_target
from bench.peers import Peer, create_key, gateway, gateway_env
from bench.procs import ROOT, child_env, cpu_seconds, free_port, pin, python, rss_bytes, rss_parts, server, threads
from bench.repeats import median_of

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "latest.json"
DOCS = ROOT / "docs" / "performance.md"
SCHEMA_VERSION = 2
UPSTREAM_KEY = peers.UPSTREAM_KEY
ADMIN_KEY = "sk-bench-admin-0123456789"
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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
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
    add("--stream-chunks", type=int, default=16, help="content chunks per streamed answer (16)")
    add("--no-litellm", action="store_true", help="skip LiteLLM (no install, no comparison)")
    add("--litellm-venv", type=Path, default=litellm_proxy.DEFAULT_VENV, help="its environment (made if missing)")
    add("--litellm-spec", default=litellm_proxy.DEFAULT_SPEC, help="what pip installs there ('litellm[proxy]')")
    add("--skip", default="", help=f"comma-separated phases to skip: {', '.join(PHASES)}")
    add("--gateway-launcher", type=Path,
        help="a Python script run instead of `-m lambdarouter` for `serve` (to A/B a variant)")
    add("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON report (default {DEFAULT_OUTPUT})")
    add("--docs", type=Path, help="the page whose generated block gets this run's tables "
                                  "(default: docs/performance.md when --output is the default)")
    args = parser.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        if getattr(args, name) is None:
            value = quick if args.quick else full
            setattr(args, name, _ints(value) if name == "memory_checkpoints" else value)
    for name in ("pairs", "stream_pairs", "concurrent_pairs", "throughput_requests", "stream_throughput_requests",
                 "repeats", "cold_runs", "cost_requests", "stream_chunks", "concurrency", "memory_concurrency"):
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


# -- machine ----------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load: other work on the machine is the usual cause of a noisy p99."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def memory_total_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None


def machine_info() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_mb": memory_total_mb(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": load_average(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- servers ----------------------------------------------------------------------------------------------


# -- measurements -----------------------------------------------------------------------------------------


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
                _say(f"    concurrency 1: {args.warmup} warm-up + {args.pairs} pairs ...")
                out["c1"] = await latency.paired_completions(client, direct, target, args.pairs, args.warmup, 1)
                _say(f"    concurrency 1, streamed: {args.stream_warmup} warm-up + {args.stream_pairs} pairs ...")
                out["c1_streamed"] = await latency.paired_streams(client, direct, target, args.stream_pairs,
                                                                  args.stream_warmup, 1)
                _say(f"    concurrency {args.concurrency}: {args.concurrent_warmup} warm-up + "
                     f"{args.concurrent_pairs} pairs ...")
                out[f"c{args.concurrency}"] = await latency.paired_completions(
                    client, direct, target, args.concurrent_pairs, args.concurrent_warmup, args.concurrency)
            if "throughput" not in args.skip:
                _say(f"    throughput at {args.throughput_concurrency}: {args.throughput_requests} requests each ...")
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


def measure_profile(args: argparse.Namespace, workdir: Path, upstream_base: str) -> dict[str, Any]:
    dump = workdir / "gateway.prof"

    async def drive(target: Target, pid: int) -> None:
        async with latency.new_client(8) as client:
            await latency.load(client, target, max(50, args.profile_requests // 10), 1)
            os.kill(pid, signal.SIGUSR1)  # the launcher starts profiling now
            await asyncio.sleep(0.05)
            result = await latency.load(client, target, args.profile_requests, 1)
            if result.errors:
                raise RuntimeError(f"profiled requests failed: {result.first_error}")

    with gateway(workdir, "gateway-profiled", upstream_base, profiling.LAUNCHER,
                 {profiling.OUTPUT_ENV: str(dump)}) as (process, target):
        asyncio.run(drive(target, process.pid))
    if not dump.exists():
        raise RuntimeError("the profiled gateway wrote no profile")
    return {"method": "cProfile in the `lambdarouter serve` process (event-loop thread), concurrency 1, "
                      "non-streamed, after a warm-up; self time per request by component",
            **profiling.aggregate(dump, args.profile_requests)}


@contextmanager
def aws_endpoint(workdir: Path, upstream_base: str) -> Iterator[tuple[dict[str, dict[str, str]], dict[str, str]]]:
    """A moto server standing in for DynamoDB, Secrets Manager and S3, set up as a deployed stack has them:
    (each function's environment as template.yaml gives it, by functions/<name>; the events' key values)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server("moto", [python(), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], child_env({}),
                f"{url}/moto-api/", workdir):
        setup_env = {**coldstart_deployed.LAMBDA_SETS, "AWS_ENDPOINT_URL": url,
                     **{t.env_var: t.default_name for t in _tables()}}
        made = cost.run_probe("aws-setup", upstream_base, {**child_env({}), **setup_env},
                              extra=("--admin-key", ADMIN_KEY))
        refs = {**{t.logical_id: t.default_name for t in _tables()}, **made["resources"]}
        environments = {name: {**env, "AWS_ENDPOINT_URL": url}
                        for name, env in coldstart_deployed.template_environments(refs).items()}
        yield environments, {"LAMBDAROUTER_KEY": made["key"], "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}


def _tables() -> list[Any]:
    from lambdarouter.store.tables import TABLES

    return list(TABLES)


def measure_coldstart(args: argparse.Namespace, workdir: Path, upstream_base: str,
                      lite: litellm_proxy.LiteLLMEnv | None) -> dict[str, Any]:
    env = {**gateway_env(workdir, "coldstart", upstream_base), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    keys = {"LAMBDAROUTER_KEY": create_key(env), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}
    built: tuple[Path, str] | str = "--coldstart-from venv"
    if args.coldstart_from == "layer":
        _say("  building the layer for this machine's Python (cold starts import only what it ships) ...")
        built = layer.host_layer(workdir)
    host = None if isinstance(built, str) else built
    probes = coldstart.entry_probes(env, keys, workdir, layer=host)
    if lite is not None:
        probes.append(coldstart.litellm_probe(lite.python, litellm_proxy.import_environment()))
    with ExitStack() as stack:
        aws_note = "skipped (--coldstart-aws off)"
        if args.coldstart_aws:
            try:
                if host is None:
                    raise RuntimeError(f"the deployed configuration needs the built layer: {built}")
                environments, aws_keys = stack.enter_context(aws_endpoint(workdir, upstream_base))
                aws_dir = workdir / "aws-events"
                aws_dir.mkdir(exist_ok=True)
                probes += coldstart.deployed_probes(environments, aws_keys, aws_dir, host)
                aws_note = ("deployed configuration (bench/coldstart_deployed.py): the layer as its Makefile builds "
                            "it, run by the Lambda runtime's Python where this machine has it; template.yaml's "
                            "environment per function with LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME (Powertools "
                            "logs, metrics, X-Ray); run.sh under the Web Adapter's readiness protocol, or the Mangum "
                            "handler; DynamoDB, Secrets Manager and S3 served by a local moto server")
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                aws_note = f"skipped: {exc}"[:1500]
        result = coldstart.measure(probes, args.cold_runs, workdir)
    result["aws_configuration"] = aws_note
    result["functions_from"] = (f"this venv ({python()}): no layer: {built}"
                                if isinstance(built, str) else
                                "the layer built for this machine's Python and CPU (layers/lambdarouter/Makefile "
                                "with PYTHON_VERSION, PLATFORMS; boto3 kept), run with `python -S`, PYTHONPATH=layer")
    return result


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


# -- the run ----------------------------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`, which stops the servers


def _config(args: argparse.Namespace) -> dict[str, Any]:
    names = [*SIZES, "concurrency", "throughput_concurrency", "p99_limit_ms", "memory_concurrency",
             "memory_stream_every", "stream_chunks", "quick", "no_litellm", "no_portkey", "pin", "coldstart_from",
             "coldstart_aws"]
    out = {name: getattr(args, name) for name in names}
    out["skip"] = sorted(args.skip)
    out["gateway_launcher"] = str(args.gateway_launcher) if args.gateway_launcher else None
    return out


def _phase(out: dict[str, Any], errors: list[str], name: str, what: Callable[[], dict[str, Any]],
           into: str | None = None) -> None:
    """Run one phase into `out[name]` (or `out[name][into]`); a failure is recorded there and the run goes on."""
    try:
        result = what()
    except Exception as exc:  # every phase is independent: keep the others' figures
        message = f"{type(exc).__name__}: {exc}"[-4000:]
        result = {"error": message}
        errors.append(f"{name}{'.' + into if into else ''}")
        _say(f"  {name} failed: {message.splitlines()[0] if message else ''}")
    if into is None:
        out.setdefault(name, {}).update(result)
    else:
        out.setdefault(name, {})[into] = result


def comparisons(args: argparse.Namespace, workdir: Path,
                out: dict[str, Any]) -> tuple[list[Peer], litellm_proxy.LiteLLMEnv | None]:
    """The peers beside the gateway that could be set up (each made once, then reused; why not, in `out`), and
    LiteLLM's environment (for `import litellm` beside the cold starts)."""
    found: list[Peer] = []
    lite: litellm_proxy.LiteLLMEnv | None = None
    if args.no_portkey:
        out["portkey"] = {"skipped": "--no-portkey"}
    else:
        _say("Portkey's gateway (npm) ...")
        made_pk = portkey_gateway.ensure(workdir / "portkey-install.log")
        if isinstance(made_pk, str):
            out["portkey"] = {"skipped": made_pk}
            _say(f"  Portkey skipped: {made_pk}")
        else:
            found.append(peers.portkey_peer(made_pk))
    if args.no_litellm:
        out["litellm"] = {"skipped": "--no-litellm"}
    else:
        _say("LiteLLM environment ...")
        made = litellm_proxy.ensure(args.litellm_venv, args.litellm_spec, workdir / "litellm-install.log")
        if isinstance(made, str):
            out["litellm"] = {"skipped": made}
            _say(f"  LiteLLM skipped: {made}")
        else:
            lite = made
            found.append(peers.litellm_peer(made))
    return found, lite


def _measured(peer: Peer, args: argparse.Namespace, workdir: Path, upstream_base: str, tag: str,
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
            _say(f"{peer.label}, round {index + 1} of {args.repeats} ...")
            one: dict[str, Any] = {}
            _phase(one, errors, peer.name, _measured(peer, args, workdir, upstream_base, f"{peer.name}-{index}",
                                                     lambda pid, t: measure_server(args, direct, t, pid)))
            rounds[peer.name].append(one[peer.name])
    for peer in servers:
        good = [r for r in rounds[peer.name] if "error" not in r]
        merged = median_of(good) if good else rounds[peer.name][-1]
        out.setdefault(peer.name, {}).update({**peer.setup, **merged, "repeats": len(good)})


def run(args: argparse.Namespace, workdir: Path, out: dict[str, Any]) -> list[str]:
    """Every phase not skipped; the names of those that failed."""
    skip = args.skip
    errors: list[str] = []
    if args.pin:
        pin(os.getpid(), {0}, tree=False)  # the client; the upstream joins it below
    others, lite = comparisons(args, workdir, out)
    servers = [peers.gateway_peer(args.gateway_launcher), *others]
    up_port = free_port()
    upstream_base = f"http://127.0.0.1:{up_port}/v1"
    upstream_argv = [python(), str(ROOT / "bench" / "upstream.py"), "--port", str(up_port),
                     "--content-chunks", str(args.stream_chunks)]
    with ExitStack() as stack:
        upstream = stack.enter_context(server("upstream", upstream_argv, child_env({}),
                                              f"http://127.0.0.1:{up_port}/health", workdir))
        if args.pin:
            pin(upstream.pid, {0})
        direct = make_target("direct", upstream_base, UPSTREAM_MODEL, UPSTREAM_KEY)
        if "throughput" not in skip:
            _say("upstream alone (reference) ...")
            _phase(out, errors, "direct", lambda: measure_direct(args, direct, upstream.pid))
        if {"latency", "throughput"} - skip:
            run_serving(args, workdir, upstream_base, direct, servers, out, errors)
        if "memory" not in skip:
            for peer in servers:
                _say(f"{peer.label} memory at {args.memory_checkpoints} requests ...")
                _phase(out, errors, peer.name, _measured(peer, args, workdir, upstream_base, f"{peer.name}-memory",
                                                         lambda pid, t: measure_memory(args, t, pid)), into="memory")
        if "coldstart" not in skip:
            _say(f"cold starts ({args.cold_runs} runs each) ...")
            _phase(out, errors, "coldstart", lambda: measure_coldstart(args, workdir, upstream_base, lite))
        if "cost" not in skip:
            _say("cost model ...")
            _phase(out, errors, "cost", lambda: measure_cost(args, upstream_base, workdir))
        if "profile" not in skip:
            _say(f"profile ({args.profile_requests} requests) ...")
            _phase(out, errors, "profile", lambda: measure_profile(args, workdir, upstream_base))
    if "layer" not in skip:
        _say("layer build ...")
        _phase(out, errors, "layer", lambda: layer.measure(workdir))
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": _config(args),
        "method": {
            "client": "asyncio workers in the harness process, each with its own keep-alive HTTP/1.1 connection "
                      "to each server (bench/rawhttp.py)",
            "pairs": "each pair sends the same request straight to the fake upstream and through the server, in one "
                     "worker slot, alternating which goes first; added = through - direct per pair",
            "upstream": "bench/upstream.py: raw ASGI under uvicorn, fixed answers built at start-up",
        },
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lambdarouter-bench-") as tmp:
        failed = run(args, Path(tmp), out)
    out["failed_phases"] = failed
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["machine"]["load_average_at_end"] = load_average()
    out["targets"] = report.targets(out)
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".tmp")
    partial.write_text(json.dumps(out, indent=2) + "\n")
    partial.replace(output)
    print(report.format_text(out))
    print(f"\nwrote {output}")
    if args.docs is not None:
        report.update_docs(out, args.docs)
        print(f"wrote the generated block of {args.docs}")
    if failed:
        print(f"FAILED phases (their errors are in the report): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
