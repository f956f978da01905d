"""The Mangum functions, driven the way Lambda drives them, with the events in `events/`, against moto in server
mode (the functions' own AWS client, lambdarouter/aws, over loopback).

Each handler (`functions/<name>/app.py`) is imported by path in the environment the template gives it
(table names, secret id, Powertools settings; nothing from the developer's shell), with moto serving the
stack's DynamoDB tables (created from `lambdarouter.store.tables`) and its secret (built from the template's
`SecretStringTemplate`). Every event is called as `sam local invoke -e events/<name>.json` would, under
both prefixes. The Web Adapter functions are tested in test_functions_inference.py.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from lambdarouter import __version__
from lambdarouter.aws.client import JsonClient
from lambdarouter.core.credentials import clear_secret_cache
from lambdarouter.http import observability
from lambdarouter.store import dynamodb as dynamodb_module
from lambdarouter.store import open_store, shared_store
from tests.lambda_events import (
    AWS_CREDENTIALS,
    RESOURCE_NAMES,
    AwsWorld,
    FakeLambdaContext,
    admin_secret,
    create_stack_data,
    event_names,
    fill,
    import_by_path,
    lambda_environment,
    load_event,
    log_lines,
    populate,
    reset_observability,
    secret_template,
    with_prefix,
)
from tests.sam_template import (
    FUNCTION_DIRS,
    MANAGEMENT,
    MODELS,
    PREFIXES,
    ROOT,
    WEB_ADAPTER_FUNCTIONS,
    event_function,
    function_environment,
    transformed_template,
)
from tests.store_fixtures import boto3_client
from tests.stores import wait
from tests.test_template_security import granted_actions

Handler = Any  # Mangum: (event, context) -> REST proxy response
SECRET_VARIABLES = ("LAMBDAROUTER_SECRET_ID", "LAMBDAROUTER_ADMIN_SECRET_ID")
# What IAM checks for each part of a TransactWriteItems (DynamoDB developer guide, "Using IAM with transactions").
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}

# Event -> the status its (Mangum) function answers.
EXPECTED_STATUS = {
    "models": 200, "models-v1": 200, "model-endpoints": 200, "model-endpoints-unknown": 404, "health": 200,
    "models-count": 200, "model": 200, "models-retrieve": 200, "providers": 200,
    "openapi": 200,
    "keys-create": 201, "keys-create-bad-body": 400, "keys-list": 200, "keys-list-bad-key": 401,
    "keys-list-gateway-key": 403, "keys-get": 200, "keys-get-unknown": 404, "keys-update": 200, "keys-delete": 200,
    "credits": 200,
    "key": 200, "key-bad-key": 401, "key-admin-key": 401, "generation": 200, "generation-unknown": 404,
    "generation-missing-id": 400,
    "usage": 200, "usage-gateway-key": 403, "generations": 200, "generations-get": 200, "hosts": 200,
    "dashboard": 200, "dashboard-asset": 200,
}
# The Web Adapter functions' events (test_functions_inference.py).
INFERENCE_EVENTS = {"chat-completions", "chat-completions-stream", "chat-completions-bad-key",
                    "chat-completions-bad-body", "chat-completions-admin-key", "embeddings", "embeddings-bad-key",
                    "embeddings-bad-body", "completions", "completions-stream", "completions-bad-key",
                    "completions-bad-body", "images", "messages", "messages-bearer", "messages-stream",
                    "messages-bad-key", "messages-bad-body", "messages-count-tokens", "responses", "responses-stream",
                    "responses-bad-key", "responses-bad-body", "responses-get"}


# -- the events themselves --------------------------------------------------------------------------------


def test_every_event_is_exercised() -> None:
    assert event_names() == EXPECTED_STATUS.keys() | INFERENCE_EVENTS
    assert all(event_function(load_event(name)) in WEB_ADAPTER_FUNCTIONS for name in INFERENCE_EVENTS)


@pytest.mark.parametrize("name", sorted(event_names()))
def test_event_is_a_rest_api_proxy_event(name: str) -> None:
    event = load_event(name)
    assert {
        "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "pathParameters", "body", "isBase64Encoded", "requestContext",
    } <= event.keys()
    context = event["requestContext"]
    assert context["path"] == f"/{context['stage']}{event['path']}"
    assert context["resourcePath"] == event["resource"]
    assert context["httpMethod"] == event["httpMethod"]
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
    query = event["queryStringParameters"]
    assert event["multiValueQueryStringParameters"] == (None if query is None else {k: [v] for k, v in query.items()})
    assert event["path"].startswith(PREFIXES)
    template = re.sub(r"\{[^/]+\}", "[^/]+", event["resource"])
    assert re.fullmatch(template, event["path"]), "the path must fit the resource it was routed by"
    for param, value in (event["pathParameters"] or {}).items():
        assert f"/{value}" in event["path"] and f"{{{param}}}" in event["resource"]
    if event["body"] is not None:
        assert event["headers"]["Content-Type"] == "application/json"


# -- the AWS side -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handlers() -> Iterator[dict[str, Handler]]:
    """Each Mangum function's handler, imported in its template environment (as Lambda's init does)."""
    environment = {**function_environment(MODELS, RESOURCE_NAMES), **AWS_CREDENTIALS,
                   "AWS_LAMBDA_FUNCTION_NAME": "lambdarouter-Function"}
    for function in (MANAGEMENT, "KeyFunction"):  # the same but for the secrets (`invoke` sets them per function)
        own = function_environment(function, RESOURCE_NAMES)
        assert {k: v for k, v in own.items() if k not in SECRET_VARIABLES} == function_environment(MODELS,
                                                                                                  RESOURCE_NAMES)
    with pytest.MonkeyPatch.context() as env:
        lambda_environment(environment, env)
        reset_observability()
        loaded = {function: import_by_path(ROOT / "functions" / directory / "app.py",
                                           f"lambdarouter_function_{directory}").handler
                  for function, directory in FUNCTION_DIRS.items() if function not in WEB_ADAPTER_FUNCTIONS}
        yield loaded
    reset_observability()


def _fresh_clients() -> None:
    """Clients and caches a warm Lambda would keep, dropped so each test starts from its own moto state."""
    dynamodb_module._client = None
    shared_store.cache_clear()
    clear_secret_cache()  # the client, and the secrets' cached values


@pytest.fixture
def world(handlers: dict[str, Handler], moto_aws: str) -> Iterator[AwsWorld]:
    _fresh_clients()
    secretsmanager = boto3_client("secretsmanager", moto_aws)
    admin_key = admin_secret()["LAMBDAROUTER_ADMIN_KEY"]
    create_stack_data(boto3_client("dynamodb", moto_aws), secretsmanager, secret_template(), admin_key)
    yield populate(open_store(), secretsmanager, admin_key)
    _fresh_clients()


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: dict[str, str]
    body: Any


def invoke(handlers: dict[str, Handler], event: dict[str, Any], world: AwsWorld | None = None) -> ProxyResponse:
    """Call the event's function as `sam local invoke -e` does, with the secrets its template environment names
    (and no other), and check the REST proxy response shape."""
    function = event_function(event)
    with pytest.MonkeyPatch.context() as env:
        own = function_environment(function, RESOURCE_NAMES)
        for name in SECRET_VARIABLES:
            if name in own:
                env.setenv(name, own[name])
            else:
                env.delenv(name, raising=False)
        result = handlers[function](fill(event, world.values) if world else event, FakeLambdaContext())
    assert isinstance(result["statusCode"], int)
    assert result["isBase64Encoded"] is False
    headers = {k.lower(): v for k, v in result["headers"].items()}
    assert "Traceback" not in result["body"]
    if headers["content-type"].startswith(("text/html", "text/javascript", "text/css")):
        return ProxyResponse(result["statusCode"], headers, result["body"])  # the dashboard's files
    assert headers["content-type"].startswith("application/json")
    return ProxyResponse(result["statusCode"], headers, json.loads(result["body"]))


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_event_passes_through_its_handler(handlers: dict[str, Handler], world: AwsWorld, name: str,
                                          prefix: str) -> None:
    response = invoke(handlers, with_prefix(load_event(name), prefix), world)
    assert response.status == EXPECTED_STATUS[name], response.body
    if response.status >= 400:
        assert set(response.body) == {"error"}
        assert response.body["error"]["code"] == response.status
        assert response.body["error"]["message"]


# -- what the answers say -------------------------------------------------------------------------------------


def test_models_lists_the_catalog(handlers: dict[str, Handler], world: AwsWorld) -> None:
    response = invoke(handlers, load_event("models"))
    ids = [m["id"] for m in response.body["data"]]
    assert "openai/gpt-4o" in ids and len(ids) == len(set(ids))
    for model in response.body["data"]:
        assert isinstance(model["pricing"]["prompt"], str) and Decimal(model["pricing"]["prompt"]) >= 0
    assert invoke(handlers, load_event("models-v1")).body == response.body


def test_model_endpoints_health_and_openapi(handlers: dict[str, Handler], world: AwsWorld) -> None:
    endpoints = invoke(handlers, load_event("model-endpoints")).body["data"]
    assert endpoints["id"] == "openai/gpt-4o" and "openai" in {e["tag"] for e in endpoints["endpoints"]}
    unknown = invoke(handlers, load_event("model-endpoints-unknown")).body["error"]
    assert unknown["type"] == "not_found_error" and "acme/no-such-model" in unknown["message"]
    assert invoke(handlers, load_event("health")).body == {"status": "ok", "version": __version__}
    paths = invoke(handlers, load_event("openapi")).body["paths"]
    for route in ("/chat/completions", "/models", "/keys", "/keys/{hash}", "/key", "/generation", "/credits"):
        assert f"/api/v1{route}" in paths and f"/v1{route}" in paths


def test_key_management_round_trip(handlers: dict[str, Handler], world: AwsWorld) -> None:
    created = invoke(handlers, load_event("keys-create"), world).body
    assert created["key"].startswith("sk-lr-v1-") and created["data"]["limit"] == 25
    assert (created["data"]["rate_limit"]["requests"], created["data"]["rate_limit"]["interval"]) == (60, "1m")
    assert wait(world.store.find_key(created["data"]["hash"])) is not None, "written to the DynamoDB keys table"
    listed = invoke(handlers, load_event("keys-list"), world).body["data"]
    assert {k["hash"] for k in listed} == {world.key_hash, created["data"]["hash"]}
    assert invoke(handlers, load_event("keys-get"), world).body["data"]["name"] == "app"
    assert invoke(handlers, load_event("keys-update"), world).body["data"]["limit"] == 50
    credits = invoke(handlers, load_event("credits"), world).body["data"]
    assert credits == {"total_credits": 75.0, "total_usage": pytest.approx(0.000125)}
    assert invoke(handlers, load_event("keys-delete"), world).body == {"deleted": True}
    assert wait(world.store.find_key(world.key_hash)) is None


def test_management_refuses_other_keys(handlers: dict[str, Handler], world: AwsWorld) -> None:
    gateway_key = invoke(handlers, load_event("keys-list-gateway-key"), world).body["error"]
    assert gateway_key["code"] == 403 and "management key" in gateway_key["message"]
    assert invoke(handlers, load_event("keys-list-bad-key"), world).body["error"]["type"] == "authentication_error"
    bad_body = invoke(handlers, load_event("keys-create-bad-body"), world).body["error"]
    assert bad_body["type"] == "invalid_request_error" and "limit" in bad_body["message"]


def test_key_and_generation(handlers: dict[str, Handler], world: AwsWorld) -> None:
    info = invoke(handlers, load_event("key"), world).body["data"]
    assert info["name"] == "app" and info["limit"] == 5 and info["usage"] == pytest.approx(0.000125)
    generation = invoke(handlers, load_event("generation"), world).body["data"]
    assert generation["id"] == world.generation_id and generation["provider_name"] == "openai"
    assert generation["total_cost"] == pytest.approx(0.000125)
    assert "Missing `id`" in invoke(handlers, load_event("generation-missing-id"), world).body["error"]["message"]
    # The management key is not a gateway key: it opens admin routes only.
    assert invoke(handlers, load_event("key-admin-key"), world).body["error"]["message"] == "Invalid API key."


# -- the secret -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("breakage", "reason"), [
    ("deleted", "cannot be read"), ("not json", "is not a JSON object"), ("a list", "is not a JSON object"),
])
def test_a_broken_secret_is_a_clear_503(handlers: dict[str, Handler], world: AwsWorld, breakage: str,
                                        reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken management key secret is a 503 that names it on the routes that need the key; a broken provider
    secret does not touch them (the inference functions answer it: test_functions_inference.py)."""
    monkeypatch.setenv("LAMBDAROUTER_SECRET_TTL", "0")
    for secret in ("ProviderSecret", "AdminKeySecret"):
        secret_id = RESOURCE_NAMES[secret]
        if breakage == "deleted":
            world.secretsmanager.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
        else:
            world.secretsmanager.put_secret_value(SecretId=secret_id,
                                                  SecretString="{oops" if breakage == "not json" else "[1, 2]")
        for name in ("keys-list", "credits"):
            response = invoke(handlers, load_event(name), world)
            if secret == "ProviderSecret":
                assert response.status == 200
                continue
            assert response.status == 503
            assert response.body["error"]["message"] == (
                f"The management key is unavailable: the secret {secret_id} {reason}.")
    # Routes that need no secret keep working.
    assert invoke(handlers, load_event("key"), world).status == 200
    assert invoke(handlers, load_event("health"), world).status == 200


def test_the_management_key_is_not_in_the_provider_secret(handlers: dict[str, Handler], world: AwsWorld) -> None:
    """Only the management function may read the management key: it never comes from the provider secret."""
    provider = {**secret_template(), "LAMBDAROUTER_ADMIN_KEY": "planted-in-the-provider-secret"}
    world.secretsmanager.put_secret_value(SecretId=RESOURCE_NAMES["ProviderSecret"], SecretString=json.dumps(provider))
    planted = replace(world, admin_key=provider["LAMBDAROUTER_ADMIN_KEY"])
    assert invoke(handlers, load_event("keys-list"), planted).status == 401
    assert invoke(handlers, load_event("keys-list"), world).status == 200


def test_a_rotated_management_key_is_read_once_the_cache_expires(
    handlers: dict[str, Handler], world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDAROUTER_SECRET_TTL", "0")
    assert invoke(handlers, load_event("keys-list"), world).status == 200
    rotated = {**admin_secret(), "LAMBDAROUTER_ADMIN_KEY": "rotated" + world.admin_key[:24]}
    world.secretsmanager.put_secret_value(SecretId=RESOURCE_NAMES["AdminKeySecret"],
                                          SecretString=json.dumps(rotated))
    assert invoke(handlers, load_event("keys-list"), world).status == 401
    after = replace(world, admin_key=rotated["LAMBDAROUTER_ADMIN_KEY"])
    assert invoke(handlers, load_event("keys-list"), after).status == 200


def test_every_aws_call_is_one_its_role_allows(handlers: dict[str, Handler], world: AwsWorld,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """moto does not check IAM: each AWS call a function makes while serving every event is held to what the
    template's role for it allows (test_template_security.py holds the roles to exactly their listed actions)."""
    transformed = transformed_template()
    logical = {physical: name for name, physical in RESOURCE_NAMES.items()}
    made: dict[str, set[tuple[str, str]]] = {}
    serving: list[str] = []

    real_call = JsonClient.call

    def record(client: JsonClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        calls = made.setdefault(serving[-1], set())
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                for kind, body in item.items():
                    calls.add((f"dynamodb:{TRANSACT_ACTIONS[kind]}", logical[body["TableName"]]))
        elif client.signing_name == "dynamodb":
            index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
            calls.add((f"dynamodb:{operation}", logical[params["TableName"]] + index))
        else:
            secret = logical.get(str(params.get("SecretId")), "?")
            calls.add((f"{client.signing_name}:{operation}", secret))
        return real_call(client, operation, params)

    monkeypatch.setattr(JsonClient, "call", record)
    for name in sorted(EXPECTED_STATUS, key=lambda n: n == "keys-delete"):  # delete the key last
        event = load_event(name)
        serving.append(event_function(event))
        invoke(handlers, event, world)
    assert made.keys() == {MANAGEMENT, "KeyFunction"}, "the catalog calls no AWS API"
    for function, calls in made.items():
        grants = granted_actions(transformed, function)
        assert {(a, r) for a, r in calls if a not in grants.get(r, set())} == set(), function


# -- logs and metrics -----------------------------------------------------------------------------------------------


def test_logs_carry_the_request_id_and_no_key(handlers: dict[str, Handler], world: AwsWorld,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    observability.powertools_logger().registered_handler.setStream(sys.stdout)  # type: ignore[attr-defined]
    event = load_event("keys-create")
    created = invoke(handlers, event, world).body
    invoke(handlers, load_event("keys-list-bad-key"), world)
    out = capsys.readouterr().out
    lines = list(log_lines(out))
    [access] = [line for line in lines if line.get("message") == "request" and line["status"] == 201]
    assert access["correlation_id"] == event["requestContext"]["requestId"]
    assert access["lambda_request_id"] == FakeLambdaContext.aws_request_id
    assert (access["method"], access["route"], access["path"]) == ("POST", "/keys", "/api/v1/keys")
    assert access["service"] == "lambdarouter" and access["level"] == "INFO"
    emf = [line for line in lines if "_aws" in line and line.get("route") == "/keys"]
    assert sorted((e["status_class"], e["Requests"]) for e in emf) == [("2xx", [1.0]), ("4xx", [1.0])]
    for document in emf:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "lambdarouter"  # the stack name
        assert sorted(directive["Dimensions"][0]) == ["service", "status_class"], "bounded: no route dimension"
    for secret in (world.admin_key, created["key"], world.key, "not-the-management-key"):
        assert secret not in out
    assert '"team-a"' not in out, "request bodies are not logged"
