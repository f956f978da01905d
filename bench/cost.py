"""Cost model: what a million chat requests and an idle month cost on AWS, from measured figures and prices.

Inputs, all measured by this run except the prices:
- the function memory: `MemorySize`'s default in template.yaml;
- the gateway's own time per request: the chat app served in-process (bench/cost_probe.py `timing`), a
  proxy for the billed Lambda duration of the gateway's work (the wait for the provider is billed too and
  is the provider's time, not the gateway's: it is shown separately as an example);
- DynamoDB request units per request: counted from the calls the store really makes (cost_probe.py
  `dynamodb`, moto), per key kind.

Prices: us-east-1, on-demand, no free tier; the sources are in PRICES (looked up with the project's search
tool on the date given; re-check them before quoting).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.procs import ROOT, python

PRICES_RETRIEVED = "2026-11-24"
PRICES: dict[str, dict[str, Any]] = {
    "lambda_arm64_gb_second": {
        "usd": 0.0000133334, "unit": "GB-second (arm64, first 7.5 billion GB-s a month)",
        "sources": ["https://aws.amazon.com/lambda/pricing/",
                    "https://vuink.com/post/njf-d-dnznmba-d-dpbz/blogs/compute/introducing-tiered-pricing-for-aws-lambda",
                    "https://cloudchipr.com/blog/aws-lambda-pricing"]},
    "lambda_request": {"usd": 0.20 / 1e6, "unit": "request ($0.20 per million)",
                       "sources": ["https://aws.amazon.com/lambda/pricing/"]},
    "api_gateway_rest_request": {
        "usd": 3.50 / 1e6, "unit": "REST API call ($3.50 per million, first 333 million a month)",
        "sources": ["https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/"
                    "cost-optimization.html", "https://aws.amazon.com/api-gateway/pricing/"]},
    "dynamodb_write_request_unit": {
        "usd": 0.625 / 1e6, "unit": "on-demand write request unit ($0.625 per million, since 1 Nov 2024)",
        "sources": ["https://aws.amazon.com/dynamodb/pricing/on-demand/",
                    "https://airbyte.com/data-engineering-resources/dynamodb-pricing"]},
    "dynamodb_read_request_unit": {
        "usd": 0.125 / 1e6, "unit": "on-demand read request unit ($0.125 per million, since 1 Nov 2024)",
        "sources": ["https://aws.amazon.com/dynamodb/pricing/on-demand/",
                    "https://airbyte.com/data-engineering-resources/dynamodb-pricing"]},
    "dynamodb_storage_gb_month": {"usd": 0.25, "unit": "GB-month of table storage (first 25 GB free)",
                                  "sources": ["https://aws.amazon.com/dynamodb/pricing/on-demand/"]},
    "dynamodb_pitr_gb_month": {"usd": 0.20, "unit": "GB-month of continuous backup (point-in-time recovery)",
                               "sources": ["https://aws.amazon.com/dynamodb/pricing/on-demand/"]},
    "secrets_manager_secret_month": {"usd": 0.40, "unit": "secret-month",
                                     "sources": ["https://aws.amazon.com/secrets-manager/pricing/",
                                                 "https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-"
                                                 "dynamic-db-credentials-kms"]},
    "secrets_manager_api_call": {"usd": 0.05 / 10_000, "unit": "API call ($0.05 per 10,000)",
                                 "sources": ["https://aws.amazon.com/secrets-manager/pricing/"]},
    "cloudwatch_logs_ingest_gb": {"usd": 0.50, "unit": "GB ingested (standard class)",
                                  "sources": ["https://aws.amazon.com/cloudwatch/pricing/",
                                              "https://c3x.dev/blog/cloudwatch-logs-cost-optimization"]},
    "cloudwatch_logs_storage_gb_month": {"usd": 0.03, "unit": "GB-month stored",
                                         "sources": ["https://aws.amazon.com/cloudwatch/pricing/",
                                                     "https://c3x.dev/blog/cloudwatch-logs-cost-optimization"]},
}
# Lambda writes START, END and REPORT lines for every invocation (~ 350 bytes together); the gateway logs
# nothing per successful request at INFO (access log off), so this is the per-request log volume.
LOG_BYTES_PER_REQUEST = 350
# A full vCPU at 1,769 MB (Lambda's documented point); below it, CPU-bound work slows in proportion.
FULL_VCPU_MB = 1769
EXAMPLE_UPSTREAM_SECONDS = 1.0
SECRET_TTL_SECONDS = 300
PROBE = ROOT / "bench" / "cost_probe.py"
PROBE_TIMEOUT = 600.0


def template_memory_mb(template: Path = ROOT / "template.yaml") -> int:
    """`Parameters: MemorySize: Default:` of the SAM template (read as text: it has CloudFormation tags)."""
    text = template.read_text()
    match = re.search(r"^  MemorySize:\s*\n((?:    .*\n)+)", text, re.MULTILINE)
    if match:
        default = re.search(r"^\s+Default:\s*(\d+)", match.group(1), re.MULTILINE)
        if default:
            return int(default.group(1))
    match = re.search(r"^\s+MemorySize:\s*(\d+)\s*$", text, re.MULTILINE)
    if match:
        return int(match.group(1))
    raise ValueError(f"{template}: no MemorySize default found")


def run_probe(mode: str, upstream_base: str, env: Mapping[str, str], requests: int = 0,
              extra: tuple[str, ...] = ()) -> dict[str, Any]:
    argv = [python(), str(PROBE), mode, "--upstream", upstream_base, *extra]
    if requests:
        argv += ["--requests", str(requests)]
    done = subprocess.run(argv, cwd=ROOT, env=dict(env), capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"cost_probe.py {mode} failed ({done.returncode}):\n{stderr[-3000:]}")
    for line in stdout.splitlines():
        if line.startswith("BENCH_COST "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_COST "))
            return result
    raise RuntimeError(f"cost_probe.py {mode} printed no report:\n{stdout[-2000:]}\n{stderr[-2000:]}")


def _usd(value: float) -> float:
    return round(value, 6)


def per_million(memory_mb: int, gateway_ms: float, units: Mapping[str, float]) -> dict[str, Any]:
    """$ per million requests, by service, for one request shape."""
    gb = memory_mb / 1024
    p = {name: spec["usd"] for name, spec in PRICES.items()}
    parts = {
        "lambda_requests": p["lambda_request"] * 1e6,
        "lambda_duration_gateway_work": gb * gateway_ms / 1000 * p["lambda_arm64_gb_second"] * 1e6,
        "api_gateway": p["api_gateway_rest_request"] * 1e6,
        "dynamodb_reads": units.get("read_units", 0) * p["dynamodb_read_request_unit"] * 1e6,
        "dynamodb_writes": (units.get("write_units", 0) + units.get("gsi_write_units", 0))
        * p["dynamodb_write_request_unit"] * 1e6,
        "cloudwatch_logs": LOG_BYTES_PER_REQUEST / 1e9 * p["cloudwatch_logs_ingest_gb"] * 1e6,
    }
    total = sum(parts.values())
    waiting = gb * EXAMPLE_UPSTREAM_SECONDS * p["lambda_arm64_gb_second"] * 1e6
    return {
        "gateway_ms": round(gateway_ms, 3),
        # Lambda rounds each invocation's whole duration (provider wait included) up to the next 1 ms.
        "usd_rounding_up_at_most": _usd(gb * 1 / 1000 * p["lambda_arm64_gb_second"] * 1e6),
        "usd": {k: _usd(v) for k, v in parts.items()},
        "usd_total": _usd(total),
        "usd_lambda_wait_per_second_of_provider_time": _usd(waiting),
        "usd_total_with_1s_provider_wait": _usd(total + waiting),
    }


def model(memory_mb: int, timing: Mapping[str, Any] | None, dynamo: Mapping[str, Any] | None) -> dict[str, Any]:
    """The cost model from the probe results (either may be missing: then the design's counts are used)."""
    out: dict[str, Any] = {"memory_mb": memory_mb, "prices_retrieved": PRICES_RETRIEVED, "prices": PRICES,
                           "region": "us-east-1"}
    gateway_ms: float | None = None
    if timing is not None:
        wall = timing["non_streamed"]["wall_ms"]
        cpu = timing["non_streamed"]["cpu_ms"]
        gateway_ms = float(wall["mean"])
        scale = max(1.0, FULL_VCPU_MB / memory_mb)
        out["gateway_time_per_request"] = {
            "source": "in-process ASGI calls on this machine (bench/cost_probe.py timing)",
            "non_streamed": timing["non_streamed"], "streamed": timing["streamed"],
            "lambda_cpu_share": round(min(1.0, memory_mb / FULL_VCPU_MB), 3),
            "estimated_lambda_ms": round(float(wall["mean"]) + float(cpu["mean"]) * (scale - 1), 3),
        }
        gateway_ms = float(out["gateway_time_per_request"]["estimated_lambda_ms"])
    if dynamo is not None:
        scenarios = dynamo["scenarios"]
        out["dynamodb"] = {"source": "calls counted on the store's boto3 client (moto), steady state",
                           **dynamo}
    else:
        # The design's count when the probe could not run: auth read; one transaction of the ledger put, the key
        # update and the hour and day aggregates (2 units each); the ledger row in two indexes.
        scenarios = {"no limits": {"read_units": 1, "write_units": 8, "gsi_write_units": 2,
                                   "operations": ["GetItem", "TransactWriteItems"], "assumed": True}}
        out["dynamodb"] = {"source": "the design (probe unavailable)", "scenarios": scenarios}
    if gateway_ms is not None:
        out["per_million_requests"] = {name: {"units": {k: s.get(k, 0) for k in
                                                        ("read_units", "write_units", "gsi_write_units")},
                                              **per_million(memory_mb, gateway_ms, s)}
                                       for name, s in scenarios.items()}
    out["idle_per_month"] = idle()
    return out


def idle() -> dict[str, Any]:
    p = {name: spec["usd"] for name, spec in PRICES.items()}
    calls = 30 * 86400 / SECRET_TTL_SECONDS  # one warm container refreshing its cached secret all month
    return {
        "lambda": {"usd": 0.0, "why": "billed per request and per ms of duration only"},
        "api_gateway": {"usd": 0.0, "why": "billed per call only (no caching configured)"},
        "dynamodb_requests": {"usd": 0.0, "why": "on-demand tables bill request units only when used"},
        "dynamodb_storage": {"usd_per_gb": p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"],
                             "why": "storage $0.25/GB-month (first 25 GB free) + PITR $0.20/GB-month: the keys "
                                    "and usage tables keep point-in-time recovery on"},
        "secrets_manager": {"usd": _usd(p["secrets_manager_secret_month"]),
                            "usd_api_calls_if_one_container_stays_warm": _usd(calls * p["secrets_manager_api_call"]),
                            "why": "one secret holds the provider keys (the design's LAMBDAROUTER_SECRET_ID)"},
        "cloudwatch_logs": {"usd_per_gb_stored": p["cloudwatch_logs_storage_gb_month"],
                            "why": "only what was logged and is still inside LogRetentionInDays (default 30)"},
        "layer": {"usd": 0.0, "why": "Lambda code storage is not billed (75 GB quota)"},
        "usd_floor": _usd(p["secrets_manager_secret_month"]),
    }
