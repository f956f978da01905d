"""The servers under test: the gateway (`lambdarouter serve`), Portkey's AI gateway and LiteLLM's proxy.

Each is a `Peer`: a name, what it is (for the report), and how to start one in front of the fake upstream
(a context manager yielding the process and the `Target` the client sends to). The harness measures them
in turn, the same way; with `--pin`, each runs on a core of its own, away from the client and the upstream.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import baseline, litellm_proxy, portkey_gateway
from bench.latency import GATEWAY_MODEL, Target, make_target
from bench.procs import ROOT, child_env, free_port, python, run_json, server

UPSTREAM_KEY = "sk-bench-upstream"
ADMIN_KEY = "sk-bench-admin-0123456789"  # the management key of the cold starts' stores
Running = tuple[subprocess.Popen[bytes], Target]
Start = Callable[[Path, str, str], AbstractContextManager[Running]]  # (workdir, tag, upstream base)


@dataclass(frozen=True, slots=True)
class Peer:
    name: str  # the report's key: "gateway", "baseline", "portkey", "litellm"
    label: str  # the column heading
    start: Start
    setup: dict[str, Any]


def serve_flags(env: dict[str, str] | None = None) -> list[str]:
    """`--log-level warning --no-access-log`, as far as this version of the CLI (the one `env` runs) knows them."""
    done = subprocess.run([python(), "-m", "lambdarouter", "serve", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False, env=env)
    flags = ["--log-level", "warning"] if "--log-level" in done.stdout else []
    return [*flags, "--no-access-log"] if "--no-access-log" in done.stdout else flags


def gateway_env(workdir: Path, tag: str, upstream_base: str) -> dict[str, str]:
    return child_env({"LAMBDAROUTER_DB": str(workdir / f"{tag}.sqlite3"), "OPENAI_API_KEY": UPSTREAM_KEY,
                      "OPENAI_BASE_URL": upstream_base})


def create_key(env: dict[str, str]) -> str:
    created = run_json([python(), "-m", "lambdarouter", "keys", "create", "--name", "bench", "--json"], env)
    if not isinstance(created, dict) or not isinstance(created.get("key"), str):
        raise RuntimeError(f"`lambdarouter keys create --json` printed {created!r}")
    key: str = created["key"]
    return key


@contextmanager
def gateway(workdir: Path, tag: str, upstream_base: str, launcher: Path | None = None,
            extra_env: dict[str, str] | None = None, name: str = "gateway") -> Iterator[Running]:
    """`lambdarouter serve` on its own SQLite file (in `workdir`: on disk) with one fresh key, both made by the
    code `extra_env` runs (a PYTHONPATH of an older tree: bench/baseline.py)."""
    env = {**gateway_env(workdir, tag, upstream_base), **(extra_env or {})}
    key = create_key(env)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    runner = [str(launcher.resolve())] if launcher else ["-m", "lambdarouter"]
    argv = [python(), *runner, "serve", "--host", "127.0.0.1", "--port", str(port), *serve_flags(env)]
    with server(tag, argv, env, f"{base}/health", workdir) as process:
        yield process, make_target(name, base, GATEWAY_MODEL, key)


def gateway_peer(launcher: Path | None) -> Peer:
    @contextmanager
    def start(workdir: Path, tag: str, upstream_base: str) -> Iterator[Running]:
        with gateway(workdir, tag, upstream_base, launcher) as running:
            yield running

    return Peer("gateway", "lambdarouter", start,
                {"command": ["lambdarouter", "serve", *serve_flags()],
                 "launcher": str(launcher) if launcher else None})


def baseline_peer(old: baseline.Baseline) -> Peer:
    """The gateway at an older revision, started as `gateway_peer` starts the current one; every start first checks
    that the old tree's code is what runs."""
    extra = baseline.environment(old)

    @contextmanager
    def start(workdir: Path, tag: str, upstream_base: str) -> Iterator[Running]:
        env = {**gateway_env(workdir, tag, upstream_base), **extra}
        baseline.check_imported(python(), env, old.src)
        with gateway(workdir, tag, upstream_base, None, extra, baseline.NAME) as running:
            yield running

    flags = serve_flags(child_env(extra))
    imported = baseline.check_imported(python(), child_env(extra), old.src)
    return Peer(baseline.NAME, old.label, start,
                {**old.describe(), "command": ["lambdarouter", "serve", *flags], "pythonpath": str(old.src),
                 "lambdarouter_imported_from": imported})


def litellm_peer(env: litellm_proxy.LiteLLMEnv) -> Peer:
    @contextmanager
    def start(workdir: Path, tag: str, upstream_base: str) -> Iterator[Running]:
        config = litellm_proxy.write_config(workdir / f"{tag}.yaml", upstream_base, UPSTREAM_KEY)
        port = free_port()
        with server(tag, litellm_proxy.command(env, config, port), litellm_proxy.environment(),
                    litellm_proxy.ready_url(port), workdir, startup_timeout=litellm_proxy.STARTUP_TIMEOUT) as process:
            yield process, make_target("litellm", f"http://127.0.0.1:{port}", GATEWAY_MODEL, litellm_proxy.MASTER_KEY)

    return Peer("litellm", f"LiteLLM {env.version}", start, {"setup": litellm_proxy.describe(env)})


def portkey_peer(env: portkey_gateway.PortkeyEnv) -> Peer:
    @contextmanager
    def start(workdir: Path, tag: str, upstream_base: str) -> Iterator[Running]:
        port = free_port()
        ready = portkey_gateway.ready_url(port)
        with server(tag, portkey_gateway.command(env, port), portkey_gateway.environment(), ready, workdir,
                    startup_timeout=portkey_gateway.STARTUP_TIMEOUT) as process:
            yield process, portkey_gateway.target(port, upstream_base, UPSTREAM_KEY)

    return Peer("portkey", f"Portkey {env.version}", start, {"setup": portkey_gateway.describe(env)})
