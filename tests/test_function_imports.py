"""What each Lambda function imports when it starts: an import-graph check, not a timing.

Each `functions/<name>/app.py` is imported in a fresh interpreter, as the Lambda runtime imports a handler (its
directory on sys.path, `importlib.import_module`), in the environment template.yaml gives that function (the
DynamoDB tables, its secrets, Powertools and X-Ray on as on Lambda). Then `sys.modules` must
- hold none of the route modules of groups the function does not serve (http/app.py's ROUTE_GROUPS);
- hold nothing its routes never use (the list per function below: the inference path in a control function,
  the store in the catalog function, another dialect, the SQLite store, the OpenAPI document...);
- hold what its init builds (lambdarouter/http/function.py): the store's client, the gateway. A failure there is
  only logged (a function must start), so this is where it shows.
Every module a function imports costs its cold start (unmarshalling alone was ~0.15 ms per module on this
machine); `python -m bench` measures the time, this keeps the structure.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from importlib import import_module
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lambdarouter.core.catalog import load_catalog
from lambdarouter.core.credentials import EnvCredentials
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import ROUTE_GROUPS, create_app
from lambdarouter.http.deferred import DEFERRED_ROUTES, deferred_routes
from lambdarouter.store.sqlite import SQLiteStore
from tests.lambda_events import AWS_CREDENTIALS, RESOURCE_NAMES
from tests.sam_template import (
    CHAT,
    EMBEDDINGS,
    FUNCTION_DIRS,
    FUNCTIONS,
    KEY,
    MANAGEMENT,
    MODELS,
    ROOT,
    function_environment,
)

# Imports the entry module as Lambda's runtime does and prints the modules loaded, as JSON, on its last line.
CHILD = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
importlib.import_module("app")
print(json.dumps(sorted(sys.modules)))
"""
LAMBDA_SETS = {"AWS_LAMBDA_FUNCTION_NAME": "lambdarouter-Function", "LAMBDA_TASK_ROOT": "/var/task",
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}

# The AWS SDK: DynamoDB and Secrets Manager go through lambdarouter/aws (~170 ms of cold start less, issue 19);
# botocore's clients are for rare paths (Bedrock, S3 images, Idempotency-Key's Powertools layer), imported by the
# request that needs one. (Powertools imports botocore's top package alone, for its user agent: ~1 ms.)
AWS_SDK = ("boto3", "botocore.client", "botocore.session", "botocore.auth", "botocore.endpoint", "s3transfer",
           "aws_lambda_powertools.utilities.parameters", "aws_lambda_powertools.utilities.idempotency")
# On AWS the store is DynamoDB: nothing of SQLite; the OpenAPI document is built by its route's first GET; the
# CLI, the aiohttp transport (`lambdarouter serve`) and the Bedrock/Gemini/Vertex adapters (imported by the request
# that needs one) never at start; nor the chat answer's pydantic models (the answer and its chunks are written
# straight to bytes: dialects/openrouter/answer.py, chunks.py; only the OpenAPI document and /completions use them).
NEVER = ("sqlite3", "lambdarouter.store.sqlite", "lambdarouter.admin.cli", "lambdarouter.http.openapi", "aiohttp",
         "lambdarouter.providers.transport.aiohttp_backend", "lambdarouter.providers.bedrock",
         "lambdarouter.providers.gemini", "lambdarouter.providers.vertex",
         "lambdarouter.dialects.openrouter.answer_schema", *AWS_SDK)
# The inference path: providers, the service, the upstream HTTP client.
INFERENCE = ("httpx", "httpcore", "lambdarouter.gateway.service", "lambdarouter.providers", "lambdarouter.core.routing",
             "lambdarouter.dialects.anthropic", "lambdarouter.dialects.openrouter.chat")
NOT_NEEDED: dict[str, tuple[str, ...]] = {
    CHAT: ("lambdarouter.gateway.embeddings", "lambdarouter.gateway.images", "lambdarouter.admin",
           "lambdarouter.dialects.responses", "lambdarouter.dialects.openrouter.completions"),
    EMBEDDINGS: ("lambdarouter.dialects.anthropic", "lambdarouter.gateway.messages", "lambdarouter.admin",
                 "lambdarouter.dialects.responses", "lambdarouter.dialects.openrouter.chat",
                 "lambdarouter.dialects.openrouter.messages", "lambdarouter.gateway.chat"),
    # The catalog: no store, no AWS client, no key handling beyond what an optional key needs.
    MODELS: (*INFERENCE, "lambdarouter.store.dynamodb", "lambdarouter.aws", "lambdarouter.admin.usage"),
    # pydantic (~100 ms of CPU to import): only POST and PATCH /keys parse a body (admin/key_body.py, imported by the
    # first of them) and only /hosts reads the catalog (http/catalog.py), so the GETs never load it.
    MANAGEMENT: (*INFERENCE, "pydantic", "pydantic_core", "lambdarouter.admin.key_body", "lambdarouter.core.catalog"),
    # /key and /generation read no secret and parse no body.
    KEY: (*INFERENCE, "lambdarouter.aws.secretsmanager", "lambdarouter.admin.usage", "pydantic",
          "pydantic_core", "lambdarouter.admin.key_body", "lambdarouter.core.catalog"),
}
# What the init builds (http/function.py): present at start, or the init failed.
BUILT_AT_INIT: dict[str, tuple[str, ...]] = {
    CHAT: ("lambdarouter.gateway.service", "lambdarouter.store.dynamodb", "lambdarouter.aws.dynamodb",
           "lambdarouter.aws.secretsmanager"),
    EMBEDDINGS: ("lambdarouter.gateway.service", "lambdarouter.store.dynamodb", "lambdarouter.aws.dynamodb",
                 "lambdarouter.aws.secretsmanager"),
    MODELS: (),
    MANAGEMENT: ("lambdarouter.store.dynamodb", "lambdarouter.aws.dynamodb", "lambdarouter.aws.secretsmanager"),
    KEY: ("lambdarouter.store.dynamodb", "lambdarouter.aws.dynamodb"),
}


def served_groups(function: str) -> tuple[set[str], set[str]]:
    """The route groups `functions/<dir>/app.py` passes to `function_app(groups, deferred=...)`: (loaded at start,
    loaded by their first request), read from its source."""
    tree = ast.parse((ROOT / "functions" / FUNCTION_DIRS[function] / "app.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "function_app":
            groups = ast.literal_eval(node.args[0])
            deferred: object = next((ast.literal_eval(k.value) for k in node.keywords if k.arg == "deferred"), [])
            assert isinstance(groups, list) and isinstance(deferred, list)
            return set(groups), set(deferred)
    raise AssertionError(f"{function}: no function_app([...]) call in its app.py")


@cache
def modules_at_start(function: str) -> frozenset[str]:
    environment = {**function_environment(function, RESOURCE_NAMES), **AWS_CREDENTIALS, **LAMBDA_SETS,
                   "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "functions" / FUNCTION_DIRS[function])],
                          env=environment, cwd=Path(__file__).parent, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "could not build" not in done.stdout + done.stderr, done.stdout[-3000:]
    return frozenset(json.loads(done.stdout.splitlines()[-1]))


def loaded(modules: frozenset[str], names: tuple[str, ...]) -> list[str]:
    """Which of `names` (a module, or a package with anything under it) are among `modules`."""
    return sorted(name for name in names if any(m == name or m.startswith(name + ".") for m in modules))


def test_every_function_is_checked() -> None:
    assert set(NOT_NEEDED) == set(BUILT_AT_INIT) == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_its_own_route_groups(function: str) -> None:
    """Its groups' route modules, and neither another group's nor a deferred one's (loaded by its first request)."""
    groups, deferred = served_groups(function)
    assert groups | deferred <= ROUTE_GROUPS.keys()
    assert deferred <= DEFERRED_ROUTES.keys()
    modules = modules_at_start(function)
    assert loaded(modules, tuple(ROUTE_GROUPS[g] for g in groups)) == sorted(ROUTE_GROUPS[g] for g in groups)
    others = tuple(module for group, module in ROUTE_GROUPS.items() if group not in groups)
    assert loaded(modules, others) == []


@pytest.mark.parametrize("group", sorted(DEFERRED_ROUTES))
def test_deferred_routes_are_the_modules_routes(group: str) -> None:
    """The table the app mounts before the import is the module's own ROUTES: same paths, methods, order."""
    real = import_module(ROUTE_GROUPS[group]).ROUTES
    assert [(route.path, route.methods) for route in deferred_routes(ROUTE_GROUPS[group], group)] == \
        [(route.path, route.methods) for route in real]


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    return Gateway(load_catalog(None), SQLiteStore(tmp_path / "gateway.sqlite3"), EnvCredentials())


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_a_deferred_route_answers_as_the_loaded_one(gateway: Gateway, prefix: str) -> None:
    """The first request loads the module and its own route answers: the same status, headers and body as the app
    that imported the group at start (an unknown key: the key check, no provider)."""
    answers = []
    for app in (create_app(["health"], deferred=["completions", "messages"], gateway=gateway),
                create_app(["health", "completions", "messages"], gateway=gateway)):
        with TestClient(app, headers={"authorization": "Bearer sk-lr-v1-unknown"}) as client:
            answers.append([(r.status_code, r.headers.get("content-type"), r.json()) for r in (
                client.post(f"{prefix}/completions", json={"model": "openai/gpt-4o", "prompt": "hi"}),
                client.post(f"{prefix}/messages", json={"model": "anthropic/claude", "max_tokens": 1,
                                                        "messages": [{"role": "user", "content": "hi"}]}),
                client.get(f"{prefix}/messages"),
            )])
    assert answers[0] == answers[1]
    assert [status for status, _, _ in answers[0]] == [401, 401, 405]


def test_a_group_is_loaded_or_deferred_never_both() -> None:
    with pytest.raises(ValueError, match="not deferrable"):
        create_app(["completions"], deferred=["completions"])
    with pytest.raises(ValueError, match="not deferrable"):
        create_app(["health"], deferred=["keys"])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_nothing_its_routes_do_not_use(function: str) -> None:
    assert loaded(modules_at_start(function), (*NEVER, *NOT_NEEDED[function])) == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_init_built_what_every_request_needs(function: str) -> None:
    assert loaded(modules_at_start(function), BUILT_AT_INIT[function]) == sorted(BUILT_AT_INIT[function])
