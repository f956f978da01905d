"""What a failover costs: `python -m bench.failover [--requests N]`.

A model has two OpenAI-format hosts on a local fake upstream: `failing` answers every request with a 500,
`backup` answers it. Interleaved, the same request goes (A) through the gateway with `failing` first, so
every call fails over, and (B) through the gateway straight to `backup`. A - B is what failing over adds;
the ledger's `provider_responses` gives the failed attempt's own time, so the gateway's own failover
overhead is A - B - (failed attempt). Writes bench/results/failover.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "failover.json"
COMPLETION = {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
CATALOG = """
[[hosts]]
name = "failing"
base_url_env = "FAILING_BASE_URL"
api_key_env = "FAILING_API_KEY"

[[hosts]]
name = "backup"
base_url_env = "BACKUP_BASE_URL"
api_key_env = "BACKUP_API_KEY"

[[models]]
id = "bench/failover"
name = "Bench: failover"
created = 1

[[models.endpoints]]
host = "failing"
upstream_id = "m"
context_length = 8000
prompt = "0.000001"
completion = "0.000001"

[[models.endpoints]]
host = "backup"
upstream_id = "m"
context_length = 8000
prompt = "0.000001"
completion = "0.000001"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def fail(_: Request) -> Response:
    return JSONResponse({"error": {"message": "down", "type": "server_error"}}, status_code=500)


async def answer(_: Request) -> Response:
    return JSONResponse(COMPLETION)


@contextmanager
def upstream() -> Iterator[str]:
    app = Starlette(routes=[Route("/failing/v1/chat/completions", fail, methods=["POST"]),
                            Route("/backup/v1/chat/completions", answer, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(f"http://127.0.0.1:{port}/none", accept_any=True)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _wait(url: str, accept_any: bool = False) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url, timeout=1).status_code
            if accept_any or status == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def gateway(upstream_url: str, tmp: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    (tmp / "catalog.toml").write_text(CATALOG)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))
           and not k.startswith("LAMBDAROUTER_")}
    env.update({"LAMBDAROUTER_DB": str(tmp / "db.sqlite3"), "LAMBDAROUTER_CONFIG": str(tmp / "catalog.toml"),
                "FAILING_BASE_URL": f"{upstream_url}/failing/v1", "FAILING_API_KEY": "k",
                "BACKUP_BASE_URL": f"{upstream_url}/backup/v1", "BACKUP_API_KEY": "k",
                "LAMBDAROUTER_RETRY_ROUNDS": "1"})
    created = subprocess.run([sys.executable, "-m", "lambdarouter", "keys", "create", "--name", "bench", "--json"],
                             env=env, capture_output=True, text=True, check=True, timeout=60)
    key = json.loads(created.stdout)["key"]
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "lambdarouter", "serve", "--port", str(port),
                                "--log-level", "warning", "--no-access-log"], env=env)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        _wait(f"{base}/health")
        yield base, key, env
    finally:
        process.terminate()
        process.wait(10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def measure(requests: int, warmup: int = 50) -> dict[str, Any]:
    with upstream() as up, tempfile.TemporaryDirectory() as tmp, gateway(up, Path(tmp)) as (base, key, _):
        headers = {"authorization": f"Bearer {key}"}
        body = {"model": "bench/failover", "messages": [{"role": "user", "content": "hi"}]}
        failover_body = {**body, "provider": {"order": ["failing", "backup"]}}
        direct_body = {**body, "provider": {"only": ["backup"]}}
        added, failed_own, overhead = [], [], []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(warmup):
                client.post("/chat/completions", json=failover_body)
                client.post("/chat/completions", json=direct_body)
            for _ in range(requests):
                started = time.perf_counter()
                via_failover = client.post("/chat/completions", json=failover_body)
                a = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                direct = client.post("/chat/completions", json=direct_body)
                b = (time.perf_counter() - started) * 1000
                assert via_failover.json()["provider"] == "backup", via_failover.text
                assert direct.status_code == 200
                record = client.get("/generation", params={"id": via_failover.json()["id"]}).json()["data"]
                failed_ms = float(record["provider_responses"][0]["latency"])
                added.append(a - b)
                failed_own.append(failed_ms)
                overhead.append(a - b - failed_ms)
    return {"requests": requests, **{f"{name}_ms": {"p50": round(statistics.median(v), 3),
                                                   "p99": round(percentile(v, 0.99), 3)}
                                    for name, v in (("failover_added", added), ("failed_attempt_own", failed_own),
                                                    ("failover_overhead", overhead))}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = measure(args.requests, args.warmup)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
