"""API Gateway events from events/, and the AWS side the functions meet on Lambda, for the function tests.

- Events carry placeholders (`${LAMBDAROUTER_KEY}`, `${LAMBDAROUTER_ADMIN_KEY}`, `${KEY_HASH}`,
  `${GENERATION_ID}`) where a deployment's own values go; `fill` puts the test's values in.
- `AwsWorld` is the stack's data as moto serves it: the tables created from `lambdarouter.store.tables`,
  the provider secret as the template writes it, the management key's own secret with a generated key, one
  gateway key and one of its generations in the ledger.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambdarouter.aws import client as aws_client
from lambdarouter.http import observability
from lambdarouter.store import GenerationRecord, KeySettings, Store
from lambdarouter.store.tables import create_tables
from tests.sam_template import EVENTS, source
from tests.stores import wait

PLACEHOLDER = re.compile(r"\$\{(LAMBDAROUTER_KEY|LAMBDAROUTER_ADMIN_KEY|KEY_HASH|GENERATION_ID)\}")
# Physical names the stack's resources get in the tests (CloudFormation would generate such names).
RESOURCE_NAMES = {"KeysTable": "lambdarouter-KeysTable-TEST1", "UsageTable": "lambdarouter-UsageTable-TEST2",
                  "IdempotencyTable": "lambdarouter-IdempotencyTable-TEST3",
                  "SummaryTable": "lambdarouter-SummaryTable-TEST6",
                  "ProviderSecret": "ProviderSecret-TEST4", "GeneratedImagesBucket": "lambdarouter-images-test5",
                  "AdminKeySecret": "AdminKeySecret-TEST7"}
SECRETS = ("ProviderSecret", "AdminKeySecret")
REGION = "us-east-1"
AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                   "AWS_DEFAULT_REGION": REGION}
# What a developer's shell may hold that a Lambda environment never does.
_LOCAL_ONLY = re.compile(
    r"^(LAMBDAROUTER_|AWS_|POWERTOOLS_|LAMBDA_TASK_ROOT$|_X_AMZN_TRACE_ID$|.*_API_KEY$|.*_BASE_URL$|.*_ENDPOINT$)")


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def event_names() -> set[str]:
    return {p.stem for p in EVENTS.glob("*.json")}


def with_prefix(event: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The same event sent under the other base path (`/api/v1` <-> `/v1`)."""
    moved: dict[str, Any] = json.loads(json.dumps(event))
    for holder, key in ((moved, "path"), (moved, "resource"), (moved["requestContext"], "resourcePath")):
        holder[key] = re.sub(r"^/(api/)?v1(?=/)", prefix, holder[key])
    moved["requestContext"]["path"] = f"/{moved['requestContext']['stage']}{moved['path']}"
    return moved


def fill(event: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The event with its placeholders replaced (headers, path, parameters, query, body)."""
    text = PLACEHOLDER.sub(lambda m: values[m.group(1)], json.dumps(event))
    filled: dict[str, Any] = json.loads(text)
    return filled


def lambda_environment(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly `environ` as far as the gateway is concerned: nothing from the developer's shell leaks in."""
    for name in list(os.environ):
        if _LOCAL_ONLY.match(name):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


@dataclass(frozen=True)
class FakeLambdaContext:
    """What the Lambda runtime passes as `context` (the attributes Mangum and Powertools read)."""

    function_name: str = "lambdarouter-Function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lambdarouter-Function"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/lambdarouter-Function"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def import_by_path(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reset_observability() -> None:
    """Undo what `instrument` configured on AWS (the package logger's JSON handler, the cached pieces)."""
    package = logging.getLogger(observability.PACKAGE)
    for handler in list(package.handlers):
        package.removeHandler(handler)
    for attribute in ("init", "powertools_handler", "powertools_buffer_config", "powertools_buffer_cache"):
        if hasattr(package, attribute):
            delattr(package, attribute)
    package.setLevel(logging.NOTSET)
    package.propagate = True
    observability.powertools_logger.cache_clear()
    observability.tracer.cache_clear()
    aws_client.span = None  # the X-Ray hook of the gateway's own AWS client


# -- the stack's data under moto ---------------------------------------------------------------------------


def secret_template() -> dict[str, str]:
    """The provider secret as CloudFormation creates it: the template's fields, all empty."""
    fields: dict[str, str] = json.loads(source()["Resources"]["ProviderSecret"]["Properties"]["SecretString"])
    return fields


def admin_secret() -> dict[str, str]:
    """The management key's secret as CloudFormation creates it: one generated field."""
    generate = source()["Resources"]["AdminKeySecret"]["Properties"]["GenerateSecretString"]
    fields: dict[str, str] = json.loads(generate["SecretStringTemplate"])
    return {**fields, generate["GenerateStringKey"]: secrets.token_hex(32)}


def create_stack_data(dynamodb: Any, secretsmanager: Any, secret: dict[str, str], admin_key: str) -> None:
    create_tables(dynamodb, {k: v for k, v in RESOURCE_NAMES.items() if k not in SECRETS})
    secretsmanager.create_secret(Name=RESOURCE_NAMES["ProviderSecret"], SecretString=json.dumps(secret))
    secretsmanager.create_secret(Name=RESOURCE_NAMES["AdminKeySecret"],
                                 SecretString=json.dumps({**admin_secret(), "LAMBDAROUTER_ADMIN_KEY": admin_key}))


@dataclass(frozen=True)
class AwsWorld:
    store: Store
    secretsmanager: Any
    admin_key: str
    key: str
    key_hash: str
    generation_id: str

    @property
    def values(self) -> dict[str, str]:
        return {"LAMBDAROUTER_KEY": self.key, "LAMBDAROUTER_ADMIN_KEY": self.admin_key, "KEY_HASH": self.key_hash,
                "GENERATION_ID": self.generation_id}


def a_generation(key_hash: str, generation_id: str = "gen-1767225600-AAAAAAAAAAAAAAAAAAAA") -> GenerationRecord:
    return GenerationRecord(
        id=generation_id, key_hash=key_hash, created_at=1767225600.0, model_requested="openai/gpt-4o",
        model="openai/gpt-4o", provider="openai", streamed=True, status="success", finish_reason="stop",
        native_finish_reason="stop", prompt_tokens=14, completion_tokens=9, cached_tokens=0, cache_write_tokens=0,
        reasoning_tokens=0, cost=Decimal("0.000125"), latency_ms=812, first_token_ms=301,
        attempts=(("openai", 200, 812),))


def populate(store: Store, secretsmanager: Any, admin_key: str) -> AwsWorld:
    """One gateway key (limit $5) and one generation of it."""
    plaintext, record = wait(store.create_key("app", KeySettings("app", limit=Decimal(5))))
    generation = a_generation(record.hash)
    assert wait(store.settle(generation, None, generation.created_at))
    return AwsWorld(store, secretsmanager, admin_key, plaintext, record.hash, generation.id)


def log_lines(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects among a function's output lines (Powertools log lines and EMF documents)."""
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                yield parsed
