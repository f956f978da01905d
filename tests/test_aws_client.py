"""lambdarouter/aws: the SigV4 signer, the JSON protocol's errors, botocore's standard retries, the credentials
chain and the endpoint, each against a local fake speaking the wire format (no moto here: tests/test_store_*.py
drive the same client against moto in server mode)."""

from __future__ import annotations

import json
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from lambdarouter.aws.attributes import deserialize, serialize
from lambdarouter.aws.client import AwsError, endpoint_url, error_code
from lambdarouter.aws.credentials import REFRESH_BEFORE, CredentialChain, CredentialsUnavailable
from lambdarouter.aws.dynamodb import MAX_ATTEMPTS, dynamodb
from lambdarouter.aws.secretsmanager import secretsmanager
from lambdarouter.aws.sigv4 import Credentials, authorization

# AWS's own example credentials (IAM user guide, "Signature Version 4 test suite").
EXAMPLE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SESSION = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-value")
CONDITIONAL = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
               "message": "The conditional request failed", "Item": {"hash": {"S": "h"}, "remaining": {"N": "0.5"}}}
THROTTLED = {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}
SERVER_ERROR = {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "Internal error"}


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` answering on a loopback port, in a thread, until the block ends: the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(data)), **headers}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class Fake:
    """An AWS JSON endpoint on loopback answering a script of (status, body[, headers]) in order (then `{}`),
    keeping every request it received and counting the connections it accepted."""

    def __init__(self) -> None:
        self.script: list[tuple[int, Any, dict[str, str]]] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.connections = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as AWS's endpoints

            def setup(self) -> None:
                fake.connections += 1
                super().setup()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, answer, headers = fake.script.pop(0) if fake.script else (200, {}, {})
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                reply(self, status, data, {"Content-Type": "application/x-amz-json-1.0", **headers})

            def log_message(self, *args: Any) -> None:
                pass

        self.handler = Handler
        self.url = ""

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.script.append((status, body, headers or {}))


@pytest.fixture
def fake() -> Iterator[Fake]:
    server = Fake()
    with serving(server.handler) as server.url:
        yield server


class Sleeps(list[float]):
    """The backoff's sleeps, recorded instead of slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def table_at(fake: Fake, sleeps: Sleeps, credentials: Credentials = SESSION) -> Any:
    return dynamodb(region="us-east-1", endpoint=fake.url, credentials=lambda: credentials, sleep=sleeps,
                    jitter=lambda: 1.0)


# -- SigV4 -----------------------------------------------------------------------------------------------------


def test_signature_matches_aws_published_vector() -> None:
    """aws-sig-v4-test-suite `get-vanilla`: GET / on example.amazonaws.com, service `service`."""
    signed = authorization("GET", "/", "", {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}, b"",
                           EXAMPLE, "us-east-1", "service", "20150830T123600Z")
    assert signed == ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                      "SignedHeaders=host;x-amz-date, "
                      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")


def botocore_signature(received: dict[str, str], body: bytes, credentials: Credentials, service: str) -> str:
    """What botocore's SigV4 signer computes for the request as the fake received it (the headers we signed)."""
    signed = received["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(method="POST", url=f"http://{received['host']}/", data=body,
                         headers={name: received[name] for name in signed})
    request.context["timestamp"] = received["x-amz-date"]
    signer = SigV4Auth(BotocoreCredentials(credentials.access_key, credentials.secret_key, credentials.token),
                       service, "us-east-1")
    signature: str = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return signature


def test_a_call_is_signed_as_botocore_signs_it(fake: Fake) -> None:
    table_at(fake, Sleeps()).get_item(TableName="keys", Key={"hash": {"S": "h é"}}, ConsistentRead=True)
    [(headers, body)] = fake.received
    assert headers["x-amz-target"] == "DynamoDB_20120810.GetItem"
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert headers["x-amz-security-token"] == SESSION.token
    assert json.loads(body) == {"TableName": "keys", "Key": {"hash": {"S": "h é"}}, "ConsistentRead": True}
    assert headers["authorization"].endswith(f"Signature={botocore_signature(headers, body, SESSION, 'dynamodb')}")
    assert "x-amz-security-token" in headers["authorization"].split("SignedHeaders=")[1].split(",")[0]


def test_secrets_manager_speaks_json_1_1(fake: Fake) -> None:
    fake.answer(200, {"ARN": "arn", "Name": "s", "SecretString": "{\"A\": \"b\"}"})
    client = secretsmanager(region="us-east-1", endpoint=fake.url, credentials=lambda: EXAMPLE)
    assert client.get_secret_string("s") == "{\"A\": \"b\"}"
    [(headers, body)] = fake.received
    assert headers["x-amz-target"] == "secretsmanager.GetSecretValue"
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(body) == {"SecretId": "s"}
    assert headers["authorization"].endswith(
        f"Signature={botocore_signature(headers, body, EXAMPLE, 'secretsmanager')}")


# -- errors and retries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("type_name", "code"), [
    ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "ConditionalCheckFailedException"),
    ("ResourceNotFoundException", "ResourceNotFoundException"),
    ("aws.protocoltests.restjson#FooError:http://internal.amazon.com/coral/com.amazon.coral.validate/", "FooError"),
])
def test_the_error_code_is_the_shape_name(type_name: str, code: str) -> None:
    assert error_code(type_name) == code


def test_an_error_carries_its_code_and_members_and_is_not_retried(fake: Fake) -> None:
    fake.answer(400, CONDITIONAL)
    sleeps = Sleeps()
    with pytest.raises(AwsError) as raised:
        table_at(fake, sleeps).update_item(TableName="keys", Key={"hash": {"S": "h"}})
    error = raised.value
    assert (error.code, error.status, error.operation) == ("ConditionalCheckFailedException", 400, "UpdateItem")
    assert error.body["Item"] == CONDITIONAL["Item"]
    assert len(fake.received) == 1 and sleeps == []


def test_a_cancelled_transaction_carries_its_reasons(fake: Fake) -> None:
    reasons = [{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}, {"Code": "None"}]
    fake.answer(400, {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                      "Message": "Transaction cancelled", "CancellationReasons": reasons})
    with pytest.raises(AwsError) as raised:
        table_at(fake, Sleeps()).transact_write_items(TransactItems=[])
    assert raised.value.code == "TransactionCanceledException"
    assert raised.value.body["CancellationReasons"] == reasons and raised.value.message == "Transaction cancelled"


def test_throttling_and_server_errors_are_retried_with_botocores_backoff(fake: Fake) -> None:
    """Throttling backs off from 1 s, other transient failures from 25 ms for DynamoDB, doubling per attempt
    (the jitter pinned at its maximum here)."""
    fake.answer(400, THROTTLED)
    fake.answer(500, SERVER_ERROR)
    fake.answer(503, b"")
    fake.answer(200, {"Item": {"hash": {"S": "h"}}})
    sleeps = Sleeps()
    assert table_at(fake, sleeps).get_item(TableName="keys", Key={}) == {"Item": {"hash": {"S": "h"}}}
    assert sleeps == [1.0, 0.025 * 2, 0.025 * 4]
    assert len(fake.received) == 4


def test_retries_are_bounded(fake: Fake) -> None:
    for _ in range(MAX_ATTEMPTS + 1):
        fake.answer(500, SERVER_ERROR)
    sleeps = Sleeps()
    with pytest.raises(AwsError) as raised:
        table_at(fake, sleeps).put_item(TableName="keys", Item={})
    assert (raised.value.code, raised.value.status) == ("InternalServerError", 500)
    assert len(fake.received) == MAX_ATTEMPTS and len(sleeps) == MAX_ATTEMPTS - 1
    assert max(sleeps) <= 20


def test_a_damaged_answer_is_retried(fake: Fake) -> None:
    good = json.dumps({"Count": 0, "Items": []}).encode()
    fake.answer(200, good, {"x-amz-crc32": str(zlib.crc32(good) ^ 1)})
    fake.answer(200, good, {"x-amz-crc32": str(zlib.crc32(good))})
    assert table_at(fake, Sleeps()).scan(TableName="keys") == {"Count": 0, "Items": []}
    assert len(fake.received) == 2


def test_no_endpoint_is_an_aws_error_after_the_retries() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = dynamodb(region="us-east-1", endpoint=f"http://127.0.0.1:{port}", credentials=lambda: EXAMPLE,
                      sleep=sleeps, jitter=lambda: 0.5)
    with pytest.raises(AwsError) as raised:
        client.get_item(TableName="keys", Key={})
    assert raised.value.status == 0 and raised.value.code == "ConnectionRefusedError"
    assert len(sleeps) == MAX_ATTEMPTS - 1


def test_connections_are_kept_alive_and_a_closed_one_replaced(fake: Fake) -> None:
    client = table_at(fake, Sleeps())
    for _ in range(3):
        client.scan(TableName="keys")
    assert fake.connections == 1
    for connection in client.json_client.pool._idle:  # as a server closes an idle connection
        assert connection.sock is not None
        connection.sock.shutdown(socket.SHUT_RDWR)
    client.scan(TableName="keys")
    assert fake.connections == 2 and len(fake.received) == 4


def test_paginate_follows_last_evaluated_key(fake: Fake) -> None:
    fake.answer(200, {"Items": [{"id": {"S": "a"}}], "LastEvaluatedKey": {"id": {"S": "a"}}})
    fake.answer(200, {"Items": [{"id": {"S": "b"}}]})
    pages = list(table_at(fake, Sleeps()).get_paginator("query").paginate(
        TableName="usage", KeyConditionExpression="k = :k", PaginationConfig={"PageSize": 1}))
    assert [page["Items"] for page in pages] == [[{"id": {"S": "a"}}], [{"id": {"S": "b"}}]]
    first, second = (json.loads(body) for _, body in fake.received)
    assert first["Limit"] == 1 and "ExclusiveStartKey" not in first and "PaginationConfig" not in first
    assert second["ExclusiveStartKey"] == {"id": {"S": "a"}}


def test_no_credential_reaches_an_error_or_a_repr(fake: Fake) -> None:
    fake.answer(400, {"__type": "ValidationException", "message": "One or more parameter values were invalid"})
    with pytest.raises(AwsError) as raised:
        table_at(fake, Sleeps()).put_item(TableName="keys", Item={"hash": {"S": "plain-secret-value"}})
    shown = f"{raised.value} {raised.value!r} {SESSION!r}"
    for secret in (SESSION.secret_key, str(SESSION.token), "plain-secret-value"):
        assert secret not in shown


# -- credentials -----------------------------------------------------------------------------------------------


class ContainerEndpoint:
    """The container credentials endpoint (Lambda SnapStart, ECS): new credentials each time it is asked."""

    def __init__(self, expiration: str) -> None:
        self.expiration, self.asked, self.authorizations = expiration, 0, list[str | None]()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.asked += 1
                endpoint.authorizations.append(self.headers.get("Authorization"))
                data = json.dumps({"AccessKeyId": f"ASIA{endpoint.asked}", "SecretAccessKey": "secret",
                                   "Token": f"token-{endpoint.asked}", "Expiration": endpoint.expiration}).encode()
                reply(self, 200, data, {})

            def log_message(self, *args: Any) -> None:
                pass

        self.handler = Handler


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Iterator[ContainerEndpoint]:
    endpoint = ContainerEndpoint("2031-03-12T16:00:00Z")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "auth-token")
    with serving(endpoint.handler) as url:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{url}/2018-06-01/credentials")
        yield endpoint


def test_container_credentials_are_kept_until_near_expiry(container: ContainerEndpoint) -> None:
    expires = datetime(2031, 3, 12, 16, tzinfo=UTC).timestamp()  # the endpoint's Expiration
    now = [expires - 3600]
    chain = CredentialChain(clock=lambda: now[0])
    first = chain.get()
    assert (first.access_key, first.token, container.asked) == ("ASIA1", "token-1", 1)
    now[0] = expires - REFRESH_BEFORE - 1
    assert chain.get() == first and container.asked == 1
    now[0] = expires - REFRESH_BEFORE + 1  # inside the refresh window: fetched again
    assert chain.get().access_key == "ASIA2" and container.asked == 2
    assert container.authorizations == ["auth-token", "auth-token"]


def test_the_authorization_token_file_is_read_at_each_fetch(container: ContainerEndpoint, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
    CredentialChain().get()
    assert container.authorizations == ["from-file"]


def test_environment_credentials_come_first(container: ContainerEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    assert CredentialChain().get() == Credentials("AKIAENV", "env-secret", None)
    assert container.asked == 0


def test_an_unreachable_container_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{port}/credentials")
    with pytest.raises(CredentialsUnavailable, match="unreachable"):
        CredentialChain().get()


# -- endpoints -------------------------------------------------------------------------------------------------


def test_endpoints_are_resolved_as_boto3_resolves_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(name, raising=False)
    assert endpoint_url("DynamoDB", "dynamodb", "eu-west-1") == "https://dynamodb.eu-west-1.amazonaws.com"
    assert endpoint_url("DynamoDB", "dynamodb", "cn-north-1") == "https://dynamodb.cn-north-1.amazonaws.com.cn"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    assert endpoint_url("Secrets Manager", "secretsmanager", "eu-west-1") == "http://localhost:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://localhost:5000")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000")
    assert endpoint_url("Secrets Manager", "secretsmanager", "eu-west-1") == "http://localhost:5000"
    assert endpoint_url("DynamoDB", "dynamodb", "eu-west-1") == "http://localhost:8000"
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert endpoint_url("DynamoDB", "dynamodb", "eu-west-1") == "https://dynamodb.eu-west-1.amazonaws.com"


def test_the_client_calls_the_overridden_endpoint(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", fake.url)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    dynamodb(credentials=lambda: EXAMPLE).scan(TableName="keys")
    [(headers, _)] = fake.received
    assert headers["host"] == fake.url.removeprefix("http://")
    assert "/eu-west-1/dynamodb/aws4_request" in headers["authorization"]


# -- attribute values ------------------------------------------------------------------------------------------


VALUES: list[Any] = [None, True, False, 0, -3, Decimal("12.50"), Decimal("1E+2"), "", "h é", b"\x00\xff",
                     {"a": [1, "b", None]}, [], {}, {"x", "y"}, {Decimal("1.5"), 2}, {b"a", b"b"},
                     {"holds": {"gen-1": {"amount": Decimal("0.4"), "expires_at": Decimal("1931176800.5")}}}]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_attribute_values_are_boto3s(value: Any) -> None:
    serialized = serialize(value)
    expected = TypeSerializer().serialize(value)
    if "B" in expected or "BS" in expected:  # boto3 leaves bytes to botocore, which base64-encodes them on the wire
        expected = json.loads(json.dumps(expected, default=lambda raw: __import__("base64").b64encode(raw).decode()))
    assert _sorted(serialized) == _sorted(expected)
    back = deserialize(json.loads(json.dumps(serialized)))
    boto3_back = TypeDeserializer().deserialize(TypeSerializer().serialize(value))
    assert back == (boto3_back.value if hasattr(boto3_back, "value") else _plain(boto3_back))


def _sorted(attribute: Any) -> Any:
    return {k: sorted(v) if k in ("SS", "NS", "BS") else v for k, v in attribute.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, set):
        return {item.value if hasattr(item, "value") else item for item in value}
    return value


@pytest.mark.parametrize("value", [1.5, Decimal("NaN"), set(), object()], ids=repr)
def test_what_dynamodb_cannot_hold_is_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        serialize(value)
