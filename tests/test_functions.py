"""The Lambda entry points, driven the way their AWS hosts drive them, with the events in `events/`.

- The control function (`functions/models/app.py`, a Mangum handler) is imported by path and called
  with each API Gateway REST proxy event as `sam local invoke -e events/<name>.json` would, under both
  prefixes.
- The inference function (`functions/chat_completions/run.sh`, uvicorn under the Lambda Web Adapter) runs
  as a process on a free port against a fake OpenAI upstream; each chat event is sent to it over HTTP the
  way the adapter forwards an event (method, path, query, headers, body, `x-amzn-request-context`).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from lambdarouter import __version__
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
MODELS_APP = ROOT / "functions" / "models" / "app.py"
RUN_SH = ROOT / "functions" / "chat_completions" / "run.sh"
PREFIXES = ("/api/v1", "/v1")
KEY_PLACEHOLDER = "${LAMBDAROUTER_KEY}"  # what the chat events carry instead of a real key

MODELS_EVENTS = {"models", "models-v1", "model-endpoints", "model-endpoints-unknown", "health", "openapi"}
CHAT_EVENTS = {"chat-completions", "chat-completions-stream", "chat-completions-bad-key", "chat-completions-bad-body"}

STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = httpx.Timeout(20.0)
CHUNK_DELAY = 0.1

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# -- events ---------------------------------------------------------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def with_prefix(event: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The same event sent under the other base path (`/api/v1` <-> `/v1`)."""
    moved: dict[str, Any] = json.loads(json.dumps(event))
    for holder, key in ((moved, "path"), (moved, "resource"), (moved["requestContext"], "resourcePath")):
        holder[key] = re.sub(r"^/(api/)?v1(?=/)", prefix, holder[key])
    moved["requestContext"]["path"] = f"/{moved['requestContext']['stage']}{moved['path']}"
    return moved


def test_every_event_is_exercised_here() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == MODELS_EVENTS | CHAT_EVENTS


@pytest.mark.parametrize("name", sorted(MODELS_EVENTS | CHAT_EVENTS))
def test_event_is_a_rest_api_proxy_event(name: str) -> None:
    event = load_event(name)
    assert {
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "pathParameters",
        "body",
        "isBase64Encoded",
        "requestContext",
    } <= event.keys()
    context = event["requestContext"]
    assert context["path"] == f"/{context['stage']}{event['path']}"
    assert context["resourcePath"] == event["resource"]
    assert context["httpMethod"] == event["httpMethod"]
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
    assert event["path"].startswith(PREFIXES)
    template = re.sub(r"\{[^/]+\}", "[^/]+", event["resource"])
    assert re.fullmatch(template, event["path"]), "the path must fit the resource it was routed by"
    for param, value in (event["pathParameters"] or {}).items():
        assert f"/{value}" in event["path"] and f"{{{param}}}" in event["resource"]


# -- the control function (Mangum) ------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeLambdaContext:
    """What the Lambda runtime passes as `context` (the attributes Mangum and Powertools read)."""

    function_name: str = "lambdarouter-ModelsFunction"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lambdarouter-ModelsFunction"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    log_group_name: str = "/aws/lambda/lambdarouter-ModelsFunction"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def import_by_path(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models_handler() -> Iterator[Handler]:
    with pytest.MonkeyPatch.context() as env:
        env.delenv("LAMBDAROUTER_CONFIG", raising=False)  # the bundled catalog, as deployed
        module = import_by_path(MODELS_APP, "lambdarouter_function_models")
        handler: Handler = module.handler
        yield handler


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: dict[str, str]
    body: Any


def invoke(handler: Handler, event: dict[str, Any]) -> ProxyResponse:
    """Call the handler as `sam local invoke -e` does and check the REST proxy response shape."""
    result = handler(event, FakeLambdaContext())
    assert isinstance(result["statusCode"], int)
    assert result["isBase64Encoded"] is False
    headers = {k.lower(): v for k, v in result["headers"].items()}
    assert headers["content-type"].startswith("application/json")
    return ProxyResponse(result["statusCode"], headers, json.loads(result["body"]))


def assert_usd(value: object) -> None:
    assert isinstance(value, str), f"prices are strings of USD, got {value!r}"
    assert Decimal(value) >= 0


@pytest.mark.parametrize("prefix", PREFIXES)
def test_models_lists_the_catalog(models_handler: Handler, prefix: str) -> None:
    response = invoke(models_handler, with_prefix(load_event("models"), prefix))
    assert response.status == 200
    models = response.body["data"]
    assert models, "the bundled catalog is not empty"
    ids = [m["id"] for m in models]
    assert len(ids) == len(set(ids))
    assert "openai/gpt-4o" in ids
    for model in models:
        assert re.fullmatch(r"[a-z0-9][\w.-]*/[\w.:-]+", model["id"]), model["id"]
        assert isinstance(model["context_length"], int)
        assert model["architecture"]["input_modalities"]
        assert_usd(model["pricing"]["prompt"])
        assert_usd(model["pricing"]["completion"])


def test_models_event_for_the_openai_prefix_matches(models_handler: Handler) -> None:
    openrouter = invoke(models_handler, load_event("models"))
    openai = invoke(models_handler, load_event("models-v1"))
    assert load_event("models-v1")["path"] == "/v1/models"
    assert openai.status == openrouter.status == 200
    assert openai.body == openrouter.body


@pytest.mark.parametrize("prefix", PREFIXES)
def test_model_endpoints(models_handler: Handler, prefix: str) -> None:
    response = invoke(models_handler, with_prefix(load_event("model-endpoints"), prefix))
    assert response.status == 200
    data = response.body["data"]
    assert data["id"] == "openai/gpt-4o"
    assert data["endpoints"]
    assert "openai" in {e["tag"] for e in data["endpoints"]}
    for endpoint in data["endpoints"]:
        assert_usd(endpoint["pricing"]["prompt"])
        assert_usd(endpoint["pricing"]["completion"])
        assert endpoint["context_length"] > 0


@pytest.mark.parametrize("prefix", PREFIXES)
def test_model_endpoints_of_an_unknown_model_is_a_404_envelope(models_handler: Handler, prefix: str) -> None:
    response = invoke(models_handler, with_prefix(load_event("model-endpoints-unknown"), prefix))
    assert response.status == 404
    error = response.body["error"]
    assert error["code"] == 404
    assert error["type"] == "not_found_error"
    assert "acme/no-such-model" in error["message"]
    assert set(response.body) == {"error"}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_health(models_handler: Handler, prefix: str) -> None:
    response = invoke(models_handler, with_prefix(load_event("health"), prefix))
    assert response.status == 200
    assert response.body == {"status": "ok", "version": __version__}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_openapi_document(models_handler: Handler, prefix: str) -> None:
    response = invoke(models_handler, with_prefix(load_event("openapi"), prefix))
    assert response.status == 200
    assert response.body["openapi"].startswith("3.1")
    paths = response.body["paths"]
    for base in PREFIXES:
        for route in ("/chat/completions", "/models", "/models/{author}/{slug}/endpoints", "/health"):
            assert f"{base}{route}" in paths


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/api/v1/nope", 404), ("POST", "/v1/models", 405)])
def test_what_the_function_does_not_serve_is_an_envelope(
    models_handler: Handler, method: str, path: str, status: int
) -> None:
    event = load_event("models")
    event.update(httpMethod=method, path=path, resource=path)
    event["requestContext"].update(httpMethod=method, resourcePath=path, path=f"/prod{path}")
    response = invoke(models_handler, event)
    assert response.status == status
    assert response.body["error"]["code"] == status


# -- the inference function (run.sh under the Lambda Web Adapter) ------------------------------------------


@dataclass(frozen=True)
class ChatFunction:
    base_url: str
    key: str
    upstream: FakeUpstream


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"run.sh exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"run.sh did not listen on {port} within {STARTUP_TIMEOUT}s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (as Lambda does at shutdown), SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):  # it may have exited on its own meanwhile
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def chat_function(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatFunction]:
    home = tmp_path_factory.mktemp("chat-function")
    port = free_port()
    with FakeUpstream() as upstream:
        # A clean environment, as Lambda's is: nothing from the developer's shell leaks in (no other
        # provider keys, no AWS_LWA_PORT); `python3` is this interpreter, as it is the runtime's on Lambda.
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "LAMBDAROUTER_DB": str(home / "lambdarouter.sqlite3"),
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": f"{upstream.url}/v1",
            "PORT": str(port),
        }
        if "PYTHONPATH" in os.environ:  # the function imports the same lambdarouter as this test does
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        created = subprocess.run(
            [sys.executable, "-m", "lambdarouter", "keys", "create", "--name", "t", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode != 0:
            pytest.fail(f"`lambdarouter keys create` failed:\n{created.stderr}")
        key: str = json.loads(created.stdout)["key"]
        log = home / "run.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(RUN_SH)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for_port(process, port, log)
            yield ChatFunction(f"http://127.0.0.1:{port}", key, upstream)
        finally:
            stop(process)


@pytest.fixture
def chat(chat_function: ChatFunction) -> Iterator[ChatFunction]:
    """The running function with a fresh upstream script; fails the test if the upstream itself broke."""
    chat_function.upstream.reset()
    yield chat_function
    assert chat_function.upstream.errors == []


def forwarded(event: dict[str, Any], function: ChatFunction) -> httpx.Request:
    """The HTTP request the Lambda Web Adapter makes to the app for an API Gateway REST proxy event."""
    query = urlencode(
        [(k, v) for k, values in (event["multiValueQueryStringParameters"] or {}).items() for v in values]
    )
    headers = [
        (name, value.replace(KEY_PLACEHOLDER, function.key))
        for name, values in event["multiValueHeaders"].items()
        for value in values
    ]
    headers.append(("x-amzn-request-context", json.dumps(event["requestContext"])))
    body = event["body"] or ""
    content = base64.b64decode(body) if event["isBase64Encoded"] else body.encode()
    url = f"{function.base_url}{event['path']}" + (f"?{query}" if query else "")
    return httpx.Request(event["httpMethod"], url, headers=headers, content=content)


def assert_error_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


def test_chat_completion(chat: ChatFunction) -> None:
    recording = load_recording("openai/text-basic")
    chat.upstream.reply(Reply.from_recording(recording))
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        response = client.send(forwarded(load_event("chat-completions"), chat))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["id"].startswith("gen-")
    assert response.headers["x-generation-id"] == completion["id"]
    assert completion["provider"] == "openai"
    assert completion["choices"][0]["message"]["content"] == recording.body["choices"][0]["message"]["content"]
    assert completion["usage"]["prompt_tokens"] == recording.body["usage"]["prompt_tokens"]
    assert Decimal(str(completion["usage"]["cost"])) > 0
    [sent] = chat.upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json()["model"] == "gpt-4o"


def test_chat_completion_stream(chat: ChatFunction) -> None:
    recording = load_recording("openai/text-stream")
    reply = Reply.from_recording(recording, chunk_delay=CHUNK_DELAY)
    assert reply.chunks is not None
    chat.upstream.reply(reply)
    arrivals: list[tuple[float, str]] = []
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        response = client.send(forwarded(load_event("chat-completions-stream"), chat), stream=True)
        try:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append((time.monotonic(), line.removeprefix("data: ")))
        finally:
            response.close()
    assert arrivals, "no events"
    assert arrivals[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in arrivals[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "4242" in text.replace(",", "")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    # Real streaming: events left the function as the upstream produced them, not all at the end.
    spread = arrivals[-1][0] - arrivals[0][0]
    assert spread >= (len(reply.chunks) - 2) * CHUNK_DELAY * 0.5, f"events arrived within {spread:.3f}s"


def test_chat_completion_with_a_bad_key_is_a_401_envelope(chat: ChatFunction) -> None:
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        response = client.send(forwarded(load_event("chat-completions-bad-key"), chat))
    error = assert_error_envelope(response, 401)
    assert error["type"] == "authentication_error"
    assert chat.upstream.requests == []


def test_chat_completion_with_a_bad_body_is_a_400_envelope(chat: ChatFunction) -> None:
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        response = client.send(forwarded(load_event("chat-completions-bad-body"), chat))
    error = assert_error_envelope(response, 400)
    assert "messages" in error["message"]
    assert chat.upstream.requests == []
