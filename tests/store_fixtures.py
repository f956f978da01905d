"""The store contract suites' fixture (tests/test_store_contract.py, tests/test_store_ledger.py): every test
that takes `store` runs against SQLite and against DynamoDB, the latter through the gateway's own AWS client
(lambdarouter/aws) over loopback to moto in server mode (`aws_endpoint`; moto's in-process `mock_aws` only
intercepts botocore, which the store no longer uses)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import msgspec
import pytest

from lambdarouter.aws.client import JsonClient
from lambdarouter.aws.dynamodb import DynamoDB, dynamodb
from lambdarouter.aws.sigv4 import Credentials
from lambdarouter.core.credentials import clear_secret_cache
from lambdarouter.store import GenerationRecord, Store
from lambdarouter.store import dynamodb as dynamodb_module
from lambdarouter.store.dynamodb import DynamoDBStore
from lambdarouter.store.sqlite import SQLiteStore
from lambdarouter.store.tables import create_tables, table_names
from tests.fakes.fixtures import reset_moto, running_moto

NOW = datetime(2031, 3, 12, 15, 30, tzinfo=UTC).timestamp()  # a Wednesday, after any key here is created
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_REGION": "us-east-1"}


class AtomicCalls(DynamoDB):
    """The gateway's DynamoDB client with its calls run one at a time.

    DynamoDB applies each request to an item atomically; moto's backend does not (two threads' conditional
    updates can interleave inside it). Serialising whole calls gives the tests DynamoDB's guarantee and nothing
    more: the store's own calls still interleave between threads in any order.
    """

    _lock = threading.Lock()

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return super().call(operation, params)


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """One moto server on loopback for the session; `moto_aws` resets it before each test."""
    with running_moto() as url:
        yield url


@pytest.fixture
def moto_aws(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh moto (every table and secret gone), the environment pointing every AWS client at it, and the
    process's clients built anew; the endpoint."""
    reset_moto(aws_endpoint)
    for name, value in {**AWS, "AWS_ENDPOINT_URL_DYNAMODB": aws_endpoint,
                        "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws_endpoint, "AWS_ENDPOINT_URL_S3": aws_endpoint}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(dynamodb_module, "_client", None)
    clear_secret_cache()
    yield aws_endpoint
    clear_secret_cache()
    reset_moto(aws_endpoint)  # moto's backends are the process's: nothing left for another module's server


def boto3_client(service: str, endpoint: str) -> Any:
    """A boto3 client at the moto server: what the tests set up tables and secrets with."""
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def gateway_client(endpoint: str) -> JsonClient:
    """The gateway's DynamoDB client at `endpoint` with moto's test credentials, whatever the environment."""
    return dynamodb(region="us-east-1", endpoint=endpoint,
                    credentials=lambda: Credentials("testing", "testing")).json_client


def atomic_client(endpoint: str) -> AtomicCalls:
    return AtomicCalls(gateway_client(endpoint))


def dynamodb_store(endpoint: str, client: DynamoDB | None = None) -> DynamoDBStore:
    """The tables created (with boto3, as `lambdarouter store init` does) and a store on them, driving `client`
    (by default the gateway's client, atomic)."""
    names = table_names({})
    create_tables(boto3_client("dynamodb", endpoint), names)
    return DynamoDBStore(names["KeysTable"], names["UsageTable"], names["SummaryTable"], names["IdempotencyTable"],
                         client=client or atomic_client(endpoint))


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield SQLiteStore(tmp_path / "store.sqlite3")
        return
    yield dynamodb_store(request.getfixturevalue("moto_aws"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def generation(key_hash: str, gen_id: str, cost: str, created_at: float = NOW, **changes: Any) -> GenerationRecord:
    record = GenerationRecord(
        id=gen_id, key_hash=key_hash, created_at=created_at, model_requested="openai/gpt-4o",
        model="openai/gpt-4o", provider="openai", streamed=False, status="success", finish_reason="stop",
        native_finish_reason="stop", prompt_tokens=10, completion_tokens=20, cached_tokens=0,
        cache_write_tokens=0, reasoning_tokens=0, cost=Decimal(cost), latency_ms=12, first_token_ms=5,
        attempts=(("openai", 200, 12),),
    )
    return msgspec.structs.replace(record, **changes)
