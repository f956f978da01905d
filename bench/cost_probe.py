"""Run by the harness in a fresh interpreter (the project's venv): what one request costs the gateway itself.

    python bench/cost_probe.py timing --requests N --upstream http://127.0.0.1:PORT/v1
    python bench/cost_probe.py dynamodb --upstream http://127.0.0.1:PORT/v1

`timing`: the chat app of `functions/chat_completions/app.py` served in-process (the minimal ASGI call of
coldstart_child.py, no HTTP server), N non-streamed and N/4 streamed requests against the fake upstream
after a warm-up; per request: wall time and process CPU time (every thread). This is the proxy for the
billed Lambda duration of the gateway's own work (the upstream's time is billed too, and is separate).

`dynamodb`: the same app on the DynamoDB store, against a moto server on loopback (tables from
lambdarouter.store.tables), counting every DynamoDB call the store's client (lambdarouter/aws) makes for one
request, with
the request units each would bill from the item sizes before and after it (DynamoDB's published rules:
reads per 4 KB, strongly consistent 1, eventually 0.5; writes per 1 KB of the larger of the old and new
item; transactional x2; a table's GSI write per 1 KB of the projected item). Three keys: no limits, a
credit limit (reserve + settle), a credit limit and a rate limit. The steady state is reported (the third
request of each). Then the first byte (issue 20): for `--first-byte-requests` more requests of each kind, what
the gateway did before the upstream request left (the key check, the rate window, the reservation, routing):
the DynamoDB round trips in that time, and its milliseconds, split into the time inside those calls (moto's
answers over loopback here, signing and parsing included; DynamoDB's in-region latency on AWS) and the
gateway's own; medians.

`aws-setup` (used by the cold-start phase): against a moto server at $AWS_ENDPOINT_URL, create the
tables (lambdarouter.store.tables), one key in them, the provider secret, the management key's secret and the
image bucket, as a deployed stack has them; prints the key and the resources' names.

Prints one line ``BENCH_COST {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import runpy
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository, so `bench` imports
    sys.path.insert(0, str(ROOT))

from bench.coldstart_child import asgi_call  # noqa: E402

CHAT_APP = ROOT / "functions" / "chat_completions" / "app.py"
ROUTE = "/api/v1/chat/completions"
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]


def _body(stream: bool) -> bytes:
    request: dict[str, Any] = {"model": "openai/gpt-4o", "messages": MESSAGES, "max_tokens": 32, "temperature": 0}
    if stream:
        request["stream"] = True
    return json.dumps(request).encode()


def _app() -> Any:
    return runpy.run_path(str(CHAT_APP))["app"]


def _headers(key: str) -> dict[str, str]:
    return {"content-type": "application/json", "authorization": f"Bearer {key}"}


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered) * 1000, 4), "mean": round(statistics.fmean(ordered) * 1000, 4),
            "p99": round(ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.99) - 1)] * 1000, 4),
            "n": len(ordered)}


# -- timing -----------------------------------------------------------------------------------------------


async def _timed(app: Any, key: str, requests: int, stream: bool) -> dict[str, Any]:
    wall: list[float] = []
    cpu: list[float] = []
    body = _body(stream)
    for _ in range(requests):
        w, c = time.perf_counter(), time.process_time()
        status, _payload = await asgi_call(app, "POST", ROUTE, _headers(key), body)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
        if status != 200:
            raise RuntimeError(f"in-process request answered {status}: {_payload[:500]!r}")
    return {"wall_ms": _ms(wall), "cpu_ms": _ms(cpu)}


def timing(requests: int) -> dict[str, Any]:
    from lambdarouter.store import shared_store

    key, _record = asyncio.run(shared_store().create_key("bench-cost"))
    app = _app()

    async def run() -> dict[str, Any]:
        await _timed(app, key, max(20, requests // 10), False)  # warm-up: connections, caches
        return {"non_streamed": await _timed(app, key, requests, False),
                "streamed": await _timed(app, key, max(1, requests // 4), True)}

    return asyncio.run(run())


# -- DynamoDB ---------------------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one typed attribute value, by DynamoDB's item-size rules."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(x.encode() if isinstance(x, str) else x) for x in inner)
    if kind == "NS":
        return sum(_number_size(x) for x in inner)
    if kind == "L":
        return 3 + sum(value_size(x) + 1 for x in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


class Recorder:
    """Counts the store client's DynamoDB calls and the request units each bills."""

    def __init__(self, raw: Any, gsi_keys: Mapping[str, list[str]]) -> None:
        self.raw = raw  # an unhooked client on the same (mocked) tables: reads item images, uncounted
        self.gsi_keys = gsi_keys  # table → the partition key of each of its indexes (an item is in those it has)
        self.calls: list[dict[str, Any]] = []
        self._before = threading.local()

    def _image(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.raw.get_item(TableName=table, Key=dict(key), ConsistentRead=True)
        item: dict[str, Any] | None = found.get("Item")
        return item

    def _writes(self, params: Mapping[str, Any], operation: str) -> list[tuple[str, dict[str, Any], Any]]:
        """(table, key, new item or None) of each item a write call touches."""
        if operation == "TransactWriteItems":
            out: list[tuple[str, dict[str, Any], Any]] = []
            for entry in params["TransactItems"]:
                (kind, spec), = entry.items()
                if kind == "ConditionCheck":
                    continue
                out.append(self._one(kind, spec))
            return out
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return [self._one(operation.removesuffix("Item").capitalize(), params)]
        return []

    def _one(self, kind: str, spec: Mapping[str, Any]) -> tuple[str, dict[str, Any], Any]:
        table = spec["TableName"]
        if kind == "Put":
            key = {name: spec["Item"][name] for name in self._key_names(table)}
            return table, key, spec["Item"]
        return table, dict(spec["Key"]), None

    def _key_names(self, table: str) -> list[str]:
        described = self.raw.describe_table(TableName=table)["Table"]["KeySchema"]
        return [k["AttributeName"] for k in described]

    def before(self, params: Mapping[str, Any], operation: str) -> None:
        writes = self._writes(params, operation)
        self._before.images = [(t, k, new, self._image(t, k)) for t, k, new in writes]

    def after(self, parsed: Mapping[str, Any], operation: str) -> None:
        failed = "Error" in parsed
        call: dict[str, Any] = {"operation": operation, "failed": failed}
        if operation == "GetItem":
            consistent = bool(getattr(self, "_last_consistent", True))
            units = max(1, math.ceil(item_size(parsed.get("Item")) / 4096))
            call["read_units"] = units if consistent else units / 2
        elif operation in ("Query", "Scan"):
            call["read_units"] = max(1, math.ceil(sum(item_size(i) for i in parsed.get("Items", [])) / 4096))
        images = getattr(self._before, "images", [])
        self._before.images = []
        writes = 0
        gsi = 0
        sizes = []
        for table, key, new, old in images:
            after = new if new is not None else self._image(table, key)
            size = max(item_size(old), item_size(after))
            sizes.append(size)
            units = max(1, math.ceil(size / 1024))
            writes += units * (2 if operation.startswith("Transact") else 1)
            if after is not None:
                indexed = sum(name in after for name in self.gsi_keys.get(table, []))
                gsi += indexed * max(1, math.ceil(item_size(after) / 1024))
        if images:
            call.update(write_units=writes, gsi_write_units=gsi, item_bytes=sizes)
        self.calls.append(call)

    def attach(self, client: Any) -> None:
        """Every call of the store's client (lambdarouter/aws `DynamoDB.call`, which each operation goes through)
        counted, failed ones too."""
        from lambdarouter.aws.client import AwsError

        real = client.call

        def counted(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            self.before(params, operation)
            if operation == "GetItem":
                self._last_consistent = bool(params.get("ConsistentRead", False))
            try:
                parsed: dict[str, Any] = real(operation, params)
            except AwsError as exc:
                self.after({"Error": {"Code": exc.code}}, operation)
                raise
            self.after(parsed, operation)
            return parsed

        client.call = counted

    def detach(self, client: Any) -> None:
        del client.call  # the instance attribute goes: the class's method shows through again


class FirstByte:
    """What happens before the upstream request leaves: the store client's calls (each one's span, from its
    parameters to its parsed answer) and the moment the transport is first asked to send."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.spans: list[tuple[str, float, float]] = []  # (operation, started, ended)
        self.upstream_at: float | None = None

    def __enter__(self) -> FirstByte:
        from lambdarouter.providers import transport

        backend = transport._backend  # the Lambda functions' httpx backend: the one place upstream I/O starts
        self._backend, self._methods = backend, {name: getattr(backend, name) for name in ("send", "stream")}
        for name, method in self._methods.items():
            setattr(backend, name, self._marking(method))
        real = self.client.call

        def timed(operation: str, params: dict[str, Any]) -> dict[str, Any]:
            started = time.perf_counter()
            try:
                answer: dict[str, Any] = real(operation, params)
                return answer
            finally:
                self.spans.append((operation, started, time.perf_counter()))

        self.client.call = timed
        return self

    def __exit__(self, *_: object) -> None:
        for name in self._methods:
            delattr(self._backend, name)  # the instance attributes go: the class's methods show through again
        del self.client.call

    def _marking(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def marked(*args: Any, **kwargs: Any) -> Any:
            if self.upstream_at is None:
                self.upstream_at = time.perf_counter()
            return method(*args, **kwargs)
        return marked

    async def measure(self, app: Any, key: str, stream: bool, requests: int) -> dict[str, Any]:
        """Medians over `requests` requests: ms from the request's arrival to the upstream call, the DynamoDB
        round trips before it and the ms inside them."""
        total: list[float] = []
        inside: list[float] = []
        operations: list[str] = []
        for _ in range(max(1, requests)):
            self.spans, self.upstream_at = [], None
            arrived = time.perf_counter()
            status, payload = await asgi_call(app, "POST", ROUTE, _headers(key), _body(stream))
            if status != 200 or self.upstream_at is None:
                raise RuntimeError(f"first-byte request answered {status}: {payload[:300]!r}")
            before = [(op, a, b) for op, a, b in self.spans if b <= self.upstream_at]
            operations = [op for op, _a, _b in before]
            total.append((self.upstream_at - arrived) * 1000)
            inside.append(sum(b - a for _op, a, b in before) * 1000)
        ms, store_ms = statistics.median(total), statistics.median(inside)
        return {"round_trips": len(operations), "operations": operations, "ms": round(ms, 3),
                "dynamodb_ms": round(store_ms, 3), "gateway_ms": round(ms - store_ms, 3), "requests": len(total)}


@contextmanager
def _env(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def dynamodb(first_byte_requests: int = 30) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    from lambdarouter.store import KeySettings, RateLimit, shared_store
    from lambdarouter.store import dynamodb as store_dynamodb
    from lambdarouter.store.tables import TABLES, create_tables, table_names

    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1"}
    names = {t.env_var: t.default_name for t in TABLES}
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with _env({**aws, **names, "AWS_ENDPOINT_URL_DYNAMODB": endpoint}):
        raw = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        create_tables(raw, table_names())
        gsi_keys = {table_names()[t.logical_id]: [i.hash_key for i in t.indexes] for t in TABLES if t.indexes}
        gsi_tables = set(gsi_keys)
        store = shared_store()
        keys = {
            "no limits": asyncio.run(store.create_key("plain"))[0],
            "credit limit": asyncio.run(store.create_key("limited", KeySettings("limited", limit=Decimal("100"))))[0],
            "credit limit + rate limit": asyncio.run(store.create_key(
                "rated", KeySettings("rated", limit=Decimal("100"), rate_limit=RateLimit(100_000, 60))))[0],
        }
        recorder = Recorder(raw, gsi_keys)
        recorder.attach(store_dynamodb.dynamodb_client())
        app = _app()
        scenarios: dict[str, Any] = {}

        async def one(key: str, stream: bool) -> list[dict[str, Any]]:
            calls: list[dict[str, Any]] = []
            for _ in range(3):  # the third is the steady state (nothing left to set up)
                recorder.calls = []
                status, payload = await asgi_call(app, "POST", ROUTE, _headers(key), _body(stream))
                if status != 200:
                    raise RuntimeError(f"request on DynamoDB answered {status}: {payload[:500]!r}")
                calls = list(recorder.calls)
            return calls

        async def run() -> None:
            kinds = [(name, key, False) for name, key in keys.items()] + [("no limits, streamed", keys["no limits"],
                                                                           True)]
            for name, key, stream in kinds:
                scenarios[name] = _totals(await one(key, stream))
            recorder.detach(store_dynamodb.dynamodb_client())  # its item reads would count as the store's time
            with FirstByte(store_dynamodb.dynamodb_client()) as first:
                for name, key, stream in kinds:
                    scenarios[name]["first_byte"] = await first.measure(app, key, stream, first_byte_requests)

        asyncio.run(run())
    server.stop()
    return {"scenarios": scenarios, "tables": sorted(names.values()), "gsi_tables": sorted(gsi_tables)}


def aws_setup(upstream_key: str, admin_key: str, upstream_base: str) -> dict[str, Any]:
    """The stack's data: tables, the provider secret (the fake upstream's key), the management key's own secret,
    the image bucket, and one gateway key. Returns the key and the names of the other resources by logical id."""
    import boto3

    from lambdarouter.store import shared_store
    from lambdarouter.store.tables import create_tables, table_names

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    create_tables(boto3.client("dynamodb", endpoint_url=endpoint), table_names())
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint)
    provider = secrets.create_secret(Name="lambdarouter-bench", SecretString=json.dumps(
        {"OPENAI_API_KEY": upstream_key, "OPENAI_BASE_URL": upstream_base}))
    admin = secrets.create_secret(Name="lambdarouter-bench-admin",
                                  SecretString=json.dumps({"LAMBDAROUTER_ADMIN_KEY": admin_key}))
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="lambdarouter-bench-images")
    key, _record = asyncio.run(shared_store().create_key("bench-coldstart"))
    return {"key": key, "resources": {"ProviderSecret": provider["ARN"], "AdminKeySecret": admin["ARN"],
                                      "GeneratedImagesBucket": "lambdarouter-bench-images"}}


def _totals(calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "calls": calls,
        "operations": [c["operation"] for c in calls],
        "read_units": sum(c.get("read_units", 0) for c in calls),
        "write_units": sum(c.get("write_units", 0) for c in calls),
        "gsi_write_units": sum(c.get("gsi_write_units", 0) for c in calls),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=["timing", "dynamodb", "aws-setup"])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--admin-key", default="")
    parser.add_argument("--first-byte-requests", type=int, default=30)
    args = parser.parse_args(argv)
    modes: dict[str, Callable[[], dict[str, Any]]] = {
        "timing": lambda: timing(args.requests), "dynamodb": lambda: dynamodb(args.first_byte_requests),
        "aws-setup": lambda: aws_setup("sk-bench-upstream", args.admin_key, args.upstream),
    }
    run = modes[args.mode]
    with tempfile.TemporaryDirectory(prefix="lambdarouter-cost-") as work:
        os.environ.update(LAMBDAROUTER_DB=str(Path(work) / "cost.sqlite3"), OPENAI_API_KEY="sk-bench-upstream",
                          OPENAI_BASE_URL=args.upstream)
        print("BENCH_COST " + json.dumps(run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
