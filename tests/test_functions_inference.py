"""The inference functions as they run on AWS: each one's `run.sh` (uvicorn, as the Lambda Web Adapter starts
it) against moto in server mode (DynamoDB and Secrets Manager over HTTP) and a fake OpenAI upstream.

Each process gets the environment the template gives its function plus the endpoints of the moto server
(`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), so the AWS path runs end to end: the
key is found in the keys table, the provider key and base URL come from the secret, and the ledger row
lands in the usage table. Each event is sent over HTTP the way the adapter forwards it (method, path,
query, headers, body, `x-amzn-request-context` and `x-amzn-lambda-context`).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import httpx
import pytest

from lambdarouter.store.dynamodb import DynamoDBStore
from tests.accounting import wait_until
from tests.fakes import openai_responses
from tests.fakes.recordings import load_recording
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import free_port
from tests.lambda_events import (
    AWS_CREDENTIALS,
    REGION,
    RESOURCE_NAMES,
    admin_secret,
    create_stack_data,
    fill,
    load_event,
    log_lines,
    secret_template,
)
from tests.sam_template import (
    CHAT,
    EMBEDDINGS,
    FUNCTION_DIRS,
    ROOT,
    WEB_ADAPTER_FUNCTIONS,
    event_function,
    function_environment,
)
from tests.store_fixtures import atomic_client
from tests.stores import wait

STARTUP_TIMEOUT = 60.0  # a bound for a busy machine, not a timing claim
REQUEST_TIMEOUT = httpx.Timeout(20.0)
PROMPT = "What is 4200 + 42?"  # what the chat events ask; it must never reach the logs


@dataclass(frozen=True)
class Running:
    """The inference functions, each a run.sh process, sharing the stack's data and one fake upstream."""

    base_urls: dict[str, str]  # function -> where its uvicorn listens
    values: dict[str, str]  # the events' placeholders
    upstream: FakeUpstream
    store: DynamoDBStore
    logs: dict[str, Path]


def wait_until_ready(process: subprocess.Popen[bytes], port: int, log: Path, path: str) -> None:
    """What the Lambda Web Adapter does before the first invocation: GET its readiness path until it answers."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"run.sh exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=0.5).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    pytest.fail(f"run.sh did not answer {path} on {port} within {STARTUP_TIMEOUT}s:\n{log.read_text()}")


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


def start(function: str, env: dict[str, str], home: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = home / f"{FUNCTION_DIRS[function]}.log"
    environment = function_environment(function, RESOURCE_NAMES)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / "functions" / FUNCTION_DIRS[function] / "run.sh")],
            env={**environment, **env, "PORT": str(port), "AWS_LAMBDA_FUNCTION_NAME": f"lambdarouter-{function}"},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until_ready(process, port, log, environment["AWS_LWA_READINESS_CHECK_PATH"])
    except BaseException:
        stop(process)
        raise
    return process, f"http://127.0.0.1:{port}", log


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[Running]:
    home = tmp_path_factory.mktemp("web-adapter-functions")
    clients = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION,
               "endpoint_url": moto_server}
    dynamodb = boto3.client("dynamodb", **clients)
    secretsmanager = boto3.client("secretsmanager", **clients)
    with FakeUpstream() as upstream:
        # The provider's key and base URL come from the secret, as on AWS; the environment has neither.
        secret = {**secret_template(), "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{upstream.url}/v1",
                  "ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": upstream.url}
        admin_key = admin_secret()["LAMBDAROUTER_ADMIN_KEY"]
        create_stack_data(dynamodb, secretsmanager, secret, admin_key)
        store = DynamoDBStore(RESOURCE_NAMES["KeysTable"], RESOURCE_NAMES["UsageTable"], RESOURCE_NAMES["SummaryTable"],
                              RESOURCE_NAMES["IdempotencyTable"], client=atomic_client(moto_server))
        key, record = wait(store.create_key("t"))
        # A clean environment, as Lambda's is: the template's variables and the runtime's; `python3` is this
        # interpreter, as it is the runtime's on Lambda.
        env = {
            **AWS_CREDENTIALS, "AWS_ENDPOINT_URL_DYNAMODB": moto_server,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home),
        }
        if "PYTHONPATH" in os.environ:  # the functions import the same lambdarouter as this test does
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        started: dict[str, tuple[subprocess.Popen[bytes], str, Path]] = {}
        try:
            for function in WEB_ADAPTER_FUNCTIONS:
                started[function] = start(function, env, home)
            values = {"LAMBDAROUTER_KEY": key, "LAMBDAROUTER_ADMIN_KEY": admin_key,
                      "KEY_HASH": record.hash, "GENERATION_ID": ""}
            yield Running({f: url for f, (_, url, _) in started.items()}, values, upstream, store,
                          {f: log for f, (_, _, log) in started.items()})
        finally:
            for process, _, _ in started.values():
                stop(process)


@pytest.fixture
def chat(functions: Running) -> Iterator[Running]:
    """The running functions with a fresh upstream script; fails the test if the upstream itself broke."""
    functions.upstream.reset()
    yield functions
    assert functions.upstream.errors == []


def forwarded(name: str, running: Running) -> httpx.Request:
    """The HTTP request the Lambda Web Adapter makes to the app for an API Gateway REST proxy event."""
    event = fill(load_event(name), running.values)
    query = urlencode(
        [(k, v) for k, values in (event["multiValueQueryStringParameters"] or {}).items() for v in values]
    )
    headers = [(name, value) for name, values in event["multiValueHeaders"].items() for value in values]
    headers.append(("x-amzn-request-context", json.dumps(event["requestContext"])))
    lambda_context = {"request_id": "4a1d0b6e-0d0c-4a4b-9d6e-1f2e3d4c5b6a", "deadline": 0,
                      "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:chat",
                      "xray_trace_id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
    headers.append(("x-amzn-lambda-context", json.dumps(lambda_context)))
    body = event["body"] or ""
    content = base64.b64decode(body) if event["isBase64Encoded"] else body.encode()
    base_url = running.base_urls[event_function(event)]
    url = f"{base_url}{event['path']}" + (f"?{query}" if query else "")
    return httpx.Request(event["httpMethod"], url, headers=headers, content=content)


def send(name: str, running: Running) -> httpx.Response:
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        return client.send(forwarded(name, running))


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


def test_chat_completion_is_answered_and_recorded_in_dynamodb(chat: Running) -> None:
    recording = load_recording("openai/text-basic")
    chat.upstream.reply(Reply.from_recording(recording))
    response = send("chat-completions", chat)
    assert response.status_code == 200, response.text
    completion = response.json()
    assert completion["object"] == "chat.completion" and completion["provider"] == "OpenAI"
    assert response.headers["x-generation-id"] == completion["id"]
    assert completion["choices"][0]["message"]["content"] == recording.body["choices"][0]["message"]["content"]
    cost = Decimal(str(completion["usage"]["cost"]))
    assert cost > 0
    [sent] = chat.upstream.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test", "the provider key came from the secret"
    ledger = wait(chat.store.get_generation(completion["id"]))
    assert ledger is not None and ledger.cost == cost and ledger.status == "success"


def test_chat_completion_stream(chat: Running) -> None:
    recording = load_recording("openai/text-stream")
    # Real streaming: the upstream holds every event after its first until the client has received one (a
    # function that buffered would wait for events that never come, and the client would time out).
    rest = threading.Event()
    chat.upstream.reply(dataclasses.replace(Reply.from_recording(recording), gates={1: rest}))
    arrivals: list[str] = []
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        response = client.send(forwarded("chat-completions-stream", chat), stream=True)
        try:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append(line.removeprefix("data: "))
                    rest.set()
        finally:
            response.close()
    assert arrivals and arrivals[-1] == "[DONE]"
    chunks = [json.loads(data) for data in arrivals[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "4242" in text.replace(",", "")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("name", ["chat-completions-bad-key", "chat-completions-admin-key"])
def test_chat_completion_with_a_bad_key_is_a_401_envelope(chat: Running, name: str) -> None:
    error = assert_error_envelope(send(name, chat), 401)
    assert error["type"] == "authentication_error"
    assert chat.upstream.requests == []


def test_chat_completion_with_a_bad_body_is_a_400_envelope(chat: Running) -> None:
    error = assert_error_envelope(send("chat-completions-bad-body", chat), 400)
    assert "messages" in error["message"]
    assert chat.upstream.requests == []


def access_lines(log: Path) -> list[dict[str, Any]]:
    return [line for line in log_lines(log.read_text()) if line.get("message") == "request"]


def test_logs_are_json_with_the_request_id_and_neither_keys_nor_prompts(chat: Running) -> None:
    before = len(access_lines(chat.logs[CHAT]))
    chat.upstream.reply(Reply.from_recording(load_recording("openai/text-basic")))
    assert send("chat-completions", chat).status_code == 200
    send("chat-completions-bad-key", chat)
    # The access line is written once the response is complete: wait for both.
    assert wait_until(lambda: len(access_lines(chat.logs[CHAT])) >= before + 2)
    text = chat.logs[CHAT].read_text()
    lines = list(log_lines(text))
    access = [line for line in lines if line.get("message") == "request"]
    request_id = load_event("chat-completions")["requestContext"]["requestId"]
    assert request_id in {line["correlation_id"] for line in access}
    assert all(line["route"] == "/chat/completions" for line in access)
    assert any(line.get("lambda_request_id") == "4a1d0b6e-0d0c-4a4b-9d6e-1f2e3d4c5b6a" for line in access)
    generations = [line for line in lines if "Generations" in line]
    assert not generations or all(line["provider"] for line in generations)
    # The readiness probe (before any invocation) is not an invocation: not logged, not counted, and the first
    # invocation is the cold start.
    assert access[0]["cold_start"] is True and not any(line.get("path", "").endswith("/health") for line in lines)
    for secret in (chat.values["LAMBDAROUTER_KEY"], chat.values["LAMBDAROUTER_ADMIN_KEY"], "sk-test", PROMPT):
        assert secret not in text


def test_embeddings(chat: Running) -> None:
    vectors = [[0.0023, -0.0093, 0.0158], [0.0111, 0.0042, -0.0317]]
    chat.upstream.reply(Reply.json({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": 10, "total_tokens": 10},
    }), path="/v1/embeddings")
    response = send("embeddings", chat)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [d["embedding"] for d in answer["data"]] == vectors
    assert Decimal(str(answer["usage"]["cost"])) > 0
    [sent] = chat.upstream.requests
    assert sent.json()["model"] == "text-embedding-3-small"
    assert sent.headers["authorization"] == "Bearer sk-test"
    ledger = wait(chat.store.get_generation(response.headers["x-generation-id"]))
    assert ledger is not None and ledger.prompt_tokens == 10


def test_embeddings_refuse_a_bad_key_and_a_bad_body(chat: Running) -> None:
    assert_error_envelope(send("embeddings-bad-key", chat), 401)
    error = assert_error_envelope(send("embeddings-bad-body", chat), 400)
    assert "input" in error["message"]
    assert chat.upstream.requests == []
    assert EMBEDDINGS in chat.logs


def test_openrouter_image_api_through_the_embeddings_function(chat: Running) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    chat.upstream.reply(Reply.json({"created": 1, "data": [{"b64_json": png}]}), path="/v1/images/generations")
    response = send("images", chat)
    assert response.status_code == 200, response.text
    [image] = response.json()["data"]
    assert (image["b64_json"], image["media_type"]) == (png, "image/png")
    ledger = wait(chat.store.get_generation(response.headers["x-generation-id"]))
    assert ledger is not None and ledger.num_media_completion == 1
    assert EMBEDDINGS in chat.logs


def test_legacy_completions_through_the_chat_function(chat: Running) -> None:
    recording = load_recording("openai/text-basic")
    chat.upstream.reply(Reply.from_recording(recording))
    response = send("completions", chat)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["object"] == "text_completion"
    assert answer["choices"][0]["text"] == recording.body["choices"][0]["message"]["content"]
    [sent] = chat.upstream.requests
    assert sent.path == "/v1/chat/completions" and sent.json()["messages"][0]["content"] == PROMPT


def test_legacy_completions_stream(chat: Running) -> None:
    chat.upstream.reply(Reply.from_recording(load_recording("openai/text-stream")))
    response = send("completions-stream", chat)
    assert response.status_code == 200
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "4242" in "".join(c["choices"][0]["text"] for c in chunks if c["choices"]).replace(",", "")


def test_legacy_completions_refuse_a_bad_key_and_a_bad_body(chat: Running) -> None:
    assert_error_envelope(send("completions-bad-key", chat), 401)
    error = assert_error_envelope(send("completions-bad-body", chat), 400)
    assert "prompt" in error["message"]
    assert chat.upstream.requests == []


# -- Anthropic's Messages API on the chat function ---------------------------------------------------------

def _anthropic_message(text: str) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-5-5",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 4}}


@pytest.mark.parametrize("name", ["messages", "messages-bearer"])
def test_messages_through_the_chat_function(chat: Running, name: str) -> None:
    chat.upstream.reply(Reply.json(_anthropic_message("4242")), path="/v1/messages")
    response = send(name, chat)
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["content"] == [{"type": "text", "text": "4242"}] and Decimal(str(message["usage"]["cost"])) > 0
    [sent] = chat.upstream.requests
    assert sent.headers["x-api-key"] == "sk-ant-test", "the provider key came from the secret"
    assert json.loads(sent.body)["model"] == "claude-opus-5-5"
    ledger = wait(chat.store.get_generation(response.headers["x-generation-id"]))
    assert ledger is not None and ledger.cost == Decimal(str(message["usage"]["cost"]))


def test_messages_stream_through_the_chat_function(chat: Running) -> None:
    events = [("message_start", {"type": "message_start", "message": {**_anthropic_message(""), "content": []}}),
              ("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
              ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "4242"}}),
              ("content_block_stop", {"type": "content_block_stop", "index": 0}),
              ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                 "usage": {"output_tokens": 4}}),
              ("message_stop", {"type": "message_stop"})]
    chat.upstream.reply(Reply.sse([f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events]),
                        path="/v1/messages")
    response = send("messages-stream", chat)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    names = [line.removeprefix("event: ") for line in response.text.splitlines() if line.startswith("event: ")]
    assert names == [n for n, _ in events]


def test_messages_errors_are_in_anthropics_shape(chat: Running) -> None:
    for name, status, kind in (("messages-bad-key", 401, "authentication_error"),
                               ("messages-bad-body", 400, "invalid_request_error")):
        response = send(name, chat)
        assert response.status_code == status and response.json()["type"] == "error"
        assert response.json()["error"]["type"] == kind and "Traceback" not in response.text
    assert "max_tokens" in send("messages-bad-body", chat).json()["error"]["message"]
    assert chat.upstream.requests == []


def test_messages_count_tokens_through_the_chat_function(chat: Running) -> None:
    chat.upstream.reply(Reply.json({"input_tokens": 14}), path="/v1/messages/count_tokens")
    response = send("messages-count-tokens", chat)
    assert response.status_code == 200 and response.json() == {"input_tokens": 14}


def test_responses_through_the_chat_function(chat: Running) -> None:
    answer = openai_responses.FakeResponse([openai_responses.message("4242")], openai_responses.usage(12, 3))
    chat.upstream.reply(answer.json_reply(), path=openai_responses.UPSTREAM_PATH)
    response = send("responses", chat)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "response" and body["output_text"] == "4242" and body["model"] == "openai/gpt-5"
    [sent] = chat.upstream.requests
    assert sent.json()["input"] == PROMPT and sent.headers["authorization"] == "Bearer sk-test"
    ledger = wait(chat.store.get_generation(body["id"]))
    assert ledger is not None and ledger.cost == Decimal(str(body["usage"]["cost"])) and ledger.status == "success"


def test_responses_stream_through_the_chat_function(chat: Running) -> None:
    answer = openai_responses.FakeResponse([openai_responses.reasoning("Adding."), openai_responses.message("4242")])
    chat.upstream.reply(answer.sse_reply(), path=openai_responses.UPSTREAM_PATH)
    response = send("responses-stream", chat)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line.removeprefix("data: ")) for line in response.text.splitlines()
              if line.startswith("data: ")]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.completed" and events[-1]["response"]["output_text"] == "4242"
    assert wait(chat.store.get_generation(events[-1]["response"]["id"])) is not None


def test_responses_refuse_a_bad_key_and_what_needs_storage(chat: Running) -> None:
    assert_error_envelope(send("responses-bad-key", chat), 401)
    assert "previous_response_id" in assert_error_envelope(send("responses-bad-body", chat), 400)["message"]
    assert "not stored" in assert_error_envelope(send("responses-get", chat), 400)["message"]
    assert chat.upstream.requests == []
