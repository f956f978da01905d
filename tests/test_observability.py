"""lambdarouter.http.observability: CORS, the request ids, generation metrics, and tracing on and off AWS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from lambdarouter.http import observability
from lambdarouter.http.app import create_app
from lambdarouter.store import shared_store
from tests.lambda_events import a_generation, log_lines, reset_observability

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def off_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT", "LAMBDAROUTER_CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def on_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "lambdarouter-Function")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "teststack")
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    monkeypatch.delenv("LAMBDAROUTER_CORS_ORIGINS", raising=False)
    reset_observability()
    yield
    reset_observability()


# -- CORS ------------------------------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str) -> Any:
    return client.options("/api/v1/models", headers={"origin": origin, "access-control-request-method": "GET",
                                                     "access-control-request-headers": "authorization"})


def test_cors_is_closed_by_default(off_aws: None) -> None:
    with TestClient(create_app(["models"])) as client:
        assert preflight(client, "https://app.example").status_code == 405
        assert "access-control-allow-origin" not in client.get("/api/v1/models",
                                                               headers={"origin": "https://app.example"}).headers


def test_cors_allows_the_configured_origins(off_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDAROUTER_CORS_ORIGINS", " https://app.example , https://admin.example")
    with TestClient(create_app(["models"])) as client:
        allowed = preflight(client, "https://admin.example")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://admin.example"
        assert "PATCH" in allowed.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in allowed.headers  # bearer keys, never cookies
        assert preflight(client, "https://evil.example").status_code == 400
        answer = client.get("/api/v1/models", headers={"origin": "https://app.example"})
    exposed = {h.strip() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"x-generation-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= exposed


def test_cors_origins_parsing() -> None:
    assert observability.cors_origins({"LAMBDAROUTER_CORS_ORIGINS": ""}) == []
    assert observability.cors_origins({"LAMBDAROUTER_CORS_ORIGINS": "a, ,b,"}) == ["a", "b"]


# -- off AWS: nothing loaded -----------------------------------------------------------------------------------


def test_nothing_of_powertools_or_xray_is_imported_off_aws() -> None:
    """`lambdarouter serve` and the tests pay no import for AWS observability (and no tracing is set up)."""
    probe = textwrap.dedent("""
        import sys
        from lambdarouter.http.app import create_app
        from lambdarouter.http.observability import emit_generation_metrics, tracer
        from tests.lambda_events import a_generation
        app = create_app()
        emit_generation_metrics(a_generation("0" * 64))
        assert tracer() is None
        print(sorted({m.split(".")[0] for m in sys.modules if m.startswith(("aws_lambda_powertools", "aws_xray"))}))
    """)
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT", "LAMBDAROUTER_CORS_ORIGINS")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == ["[]"]


# -- request ids -----------------------------------------------------------------------------------------------


def test_request_ids_from_mangum_and_from_the_web_adapter() -> None:
    class Context:
        aws_request_id = "lambda-1"

    mangum = {"type": "http", "aws.event": {"requestContext": {"requestId": "api-1"}}, "aws.context": Context()}
    assert observability.request_ids(mangum) == observability.RequestIds("api-1", "lambda-1", None)
    adapter = {"type": "http", "headers": [
        (b"x-amzn-request-context", json.dumps({"requestId": "api-2"}).encode()),
        (b"x-amzn-lambda-context", json.dumps({"request_id": "lambda-2", "xray_trace_id": "Root=1-a"}).encode()),
    ]}
    assert observability.request_ids(adapter) == observability.RequestIds("api-2", "lambda-2", "Root=1-a")
    broken = {"type": "http", "headers": [(b"x-amzn-request-context", b"{not json")]}
    assert observability.request_ids(broken) == observability.RequestIds(None, None, None)
    assert observability.status_class(204) == "2xx" and observability.status_class(503) == "5xx"


def test_route_labels_are_path_templates() -> None:
    labels = set(observability.route_labels(create_app(["models", "keys"]).routes).values())
    assert labels == {"/models", "/models/count", "/models/{author}/{slug}", "/models/{author}/{slug}/endpoints",
                      "/model/{author}/{slug}", "/providers", "/keys", "/keys/{hash}"}


# -- metrics ---------------------------------------------------------------------------------------------------


def test_generation_metrics_have_low_cardinality_dimensions(on_aws: None,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    record = a_generation("f" * 64)
    observability.emit_generation_metrics(record)
    [emf] = list(log_lines(capsys.readouterr().out))
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "teststack"
    assert directive["Dimensions"] == [["provider", "service"]]
    assert emf["provider"] == "openai" and emf["service"] == "lambdarouter"
    values = {m["Name"]: (m["Unit"], emf[m["Name"]]) for m in directive["Metrics"]}
    assert values == {
        "Generations": ("Count", [1.0]), "GenerationErrors": ("Count", [0.0]),
        "GenerationsAborted": ("Count", [0.0]), "GenerationLatency": ("Milliseconds", [812.0]),
        "TimeToFirstToken": ("Milliseconds", [301.0]), "PromptTokens": ("Count", [14.0]),
        "CompletionTokens": ("Count", [9.0]), "Cost": ("None", [float(Decimal("0.000125"))]),
        "UsageAnomalies": ("Count", [0.0]),
    }
    assert (emf["generation_id"], emf["model"], emf["status"]) == (record.id, "openai/gpt-4o", "success")
    assert "f" * 64 not in json.dumps(emf), "the key never goes into metrics"


def test_generation_metrics_of_a_failure_without_provider(on_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    from msgspec.structs import replace

    observability.emit_generation_metrics(replace(a_generation("f" * 64), provider=None, status="error",
                                                  streamed=False))
    [emf] = list(log_lines(capsys.readouterr().out))
    assert emf["provider"] == "none" and emf["GenerationErrors"] == [1.0]
    assert "TimeToFirstToken" not in emf


def test_generation_metrics_are_a_no_op_off_aws(off_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    observability.emit_generation_metrics(a_generation("f" * 64))
    assert capsys.readouterr().out == ""


def test_request_bodies_are_logged_only_when_asked(on_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LAMBDAROUTER_DB", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("LAMBDAROUTER_ADMIN_KEY", "admin-key-for-this-test")
    shared_store.cache_clear()
    app = create_app(["keys"])
    observability.powertools_logger().registered_handler.setStream(sys.stdout)  # type: ignore[attr-defined]
    body = {"name": "secret plans"}
    auth = {"authorization": "Bearer admin-key-for-this-test"}
    try:
        with TestClient(app) as client:
            assert client.post("/api/v1/keys", json=body, headers=auth).status_code == 201
            quiet = capsys.readouterr().out
            monkeypatch.setenv("LAMBDAROUTER_LOG_PROMPTS", "1")
            created = client.post("/api/v1/keys", json=body, headers=auth)
            loud = capsys.readouterr().out
    finally:
        shared_store.cache_clear()
    assert "secret plans" not in quiet and "admin-key-for-this-test" not in quiet
    [access] = [line for line in log_lines(loud) if line.get("message") == "request"]
    assert json.loads(access["request_body"]) == body
    assert "admin-key-for-this-test" not in loud, "headers are never logged"
    assert created.json()["key"] not in loud, "nor responses"


# -- tracing inside Lambda -------------------------------------------------------------------------------------

TRACE_PROBE = """
import asyncio, json, sys
assert "botocore.client" not in sys.modules  # the health route never needs it: patched once imported
import httpx
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from lambdarouter.http.app import create_app
from lambdarouter.store import shared_store

async def probe(request):
    async with httpx.AsyncClient() as client:  # created after instrument(): patched, as transport's is
        try:
            await client.get("http://127.0.0.1:9/nothing-listens-here")
        except httpx.HTTPError:
            pass
    from lambdarouter.aws.client import AwsError
    from lambdarouter.aws.dynamodb import dynamodb
    from lambdarouter.aws.sigv4 import Credentials
    table = dynamodb(region="us-east-1", endpoint="http://127.0.0.1:9", credentials=lambda: Credentials("x", "x"),
                     sleep=lambda seconds: None)  # the gateway's client: nothing listens, every retry fails at once
    try:
        table.get_item(TableName="keys", Key={"hash": {"S": "h"}})
    except AwsError:
        pass
    return PlainTextResponse("the response body")

app = create_app(["health"])
app.router.routes.append(Route("/probe", probe))
context = {"request_id": "lambda-9", "xray_trace_id": "Root=1-5759e988-bd862e3fe1be46a994272793;"
           "Parent=53995c3f42cd8ad8;Sampled=1"}
with TestClient(app) as client:
    answer = client.get("/probe", headers={"x-amzn-lambda-context": json.dumps(context)})
print(answer.status_code)
"""


def test_tracing_in_lambda_sends_subsegments_without_bodies(tmp_path: Path) -> None:
    """In a Lambda environment (LAMBDA_TASK_ROOT) Tracer patches httpx; the Web Adapter's trace header becomes
    the X-Ray context, and subsegments reach the daemon address with timings, never a body."""
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    address = f"127.0.0.1:{daemon.getsockname()[1]}"
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "lambdarouter-Function", "LAMBDA_TASK_ROOT": str(tmp_path),
           "AWS_XRAY_DAEMON_ADDRESS": address, "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
           "POWERTOOLS_TRACER_CAPTURE_ERROR": "false", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    env.pop("AWS_SAM_LOCAL", None)
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    with daemon:
        done = subprocess.run([sys.executable, "-c", TRACE_PROBE], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "200"
        documents = []
        while True:
            try:
                packet = daemon.recv(65536).decode()
            except TimeoutError:
                break
            header, _, body = packet.partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
            daemon.settimeout(0.5)
    names = {d["name"] for d in documents}
    assert {"## request", "127.0.0.1", "dynamodb"} <= names, documents
    [dynamodb] = [d for d in documents if d["name"] == "dynamodb"]
    assert dynamodb["aws"]["operation"] == "GetItem" and dynamodb["aws"]["table_name"] == "keys"
    # Nothing listened: a fault, with the error's code and not its text (the gateway's own AWS client's subsegment).
    assert dynamodb["fault"] is True and dynamodb["aws"]["error_code"] == "ConnectionRefusedError"
    assert "cause" not in dynamodb
    for document in documents:
        assert document["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert "the response body" not in json.dumps(documents)
