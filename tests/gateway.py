"""A real `lambdarouter serve` process for integration tests, pointed at the fake upstream."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

UPSTREAM_KEY = "sk-upstream-secret-0123456789"
ADMIN_KEY = "lr-admin-test-management-key-4d9f2c"  # LAMBDAROUTER_ADMIN_KEY of every test gateway
EXTRA_MODELS = Path(__file__).parent / "data" / "extra-models.toml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli(args: list[str], env: Mapping[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "lambdarouter", *args], env=dict(env), capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout


@dataclass(frozen=True)
class RunningGateway:
    url: str  # the OpenAI SDK base URL: http://127.0.0.1:PORT/api/v1
    key: str
    env: Mapping[str, str]
    log: Path
    pid: int = 0  # the `lambdarouter serve` process (its RSS and fds are in /proc/<pid>)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def gateway_env(tmp: Path, upstream_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update({
        "LAMBDAROUTER_DB": str(tmp / "gateway.sqlite3"),
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "OPENAI_BASE_URL": f"{upstream_url}/v1",
        "GROQ_API_KEY": UPSTREAM_KEY,
        "GROQ_BASE_URL": f"{upstream_url}/groq/v1",
        "LAMBDAROUTER_READ_TIMEOUT": "10",
        "LAMBDAROUTER_CONNECT_TIMEOUT": "5",
        "LAMBDAROUTER_CONFIG": str(EXTRA_MODELS),
        # Each queued fake reply answers one attempt: retries are exercised by tests that ask for them.
        "LAMBDAROUTER_RETRY_ROUNDS": "1",
        "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY,
        # Native wire formats: their paths do not collide, so one fake upstream serves them all.
        "ANTHROPIC_API_KEY": UPSTREAM_KEY,
        "ANTHROPIC_BASE_URL": upstream_url,
        "GEMINI_API_KEY": UPSTREAM_KEY,
        "GEMINI_BASE_URL": upstream_url,
        "AZURE_OPENAI_API_KEY": UPSTREAM_KEY,
        "AZURE_OPENAI_ENDPOINT": f"{upstream_url}/azure",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": upstream_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDTESTGATEWAY",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-for-tests",
        # OpenRouter as an upstream host (OpenAI format under its own prefix): chat image output.
        "OPENROUTER_API_KEY": UPSTREAM_KEY,
        "OPENROUTER_BASE_URL": f"{upstream_url}/openrouter/v1",
        "LOCAL_VLLM_API_KEY": UPSTREAM_KEY,
        "LOCAL_VLLM_BASE_URL": f"{upstream_url}/vllm/v1",
    })
    for name in ("LAMBDAROUTER_KEYS_TABLE", "LAMBDAROUTER_USAGE_TABLE", "LAMBDAROUTER_IDEMPOTENCY_TABLE"):
        env.pop(name, None)  # the SQLite file above, unless a test asks for DynamoDB
    env.update(extra or {})
    return env


@contextmanager
def running_gateway(tmp: Path, upstream_url: str, extra_env: Mapping[str, str] | None = None) -> Iterator[
    RunningGateway
]:
    env = gateway_env(tmp, upstream_url, extra_env)
    key = json.loads(cli(["keys", "create", "--name", "tests", "--json"], env))["key"]
    port = free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "lambdarouter", "serve", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, process, log)
        yield RunningGateway(f"{base}/api/v1", key, env, log, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60  # startup on a busy machine: a bound, not a timing claim
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited early:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"gateway did not become healthy:\n{log.read_text(errors='replace')}")
