"""The store contract suites' fixture (tests/test_store_contract.py, tests/test_store_ledger.py): every test
that takes `store` runs against SQLite and against DynamoDB under moto."""

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
from moto import mock_aws

from lambdarouter.store import GenerationRecord, Store
from lambdarouter.store.dynamodb import DynamoDBStore
from lambdarouter.store.sqlite import SQLiteStore
from lambdarouter.store.tables import create_tables, table_names

NOW = datetime(2031, 3, 12, 15, 30, tzinfo=UTC).timestamp()  # a Wednesday, after any key here is created
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_REGION": "us-east-1"}


class AtomicCalls:
    """A DynamoDB client whose calls run one at a time.

    DynamoDB applies each request to an item atomically; moto's in-memory backend does not (two threads'
    conditional updates can interleave inside it). Serialising whole calls gives the tests DynamoDB's
    guarantee and nothing more: the store's own calls still interleave between threads in any order.
    """

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self._client.meta.method_to_api_mapping:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


def dynamodb_store(client: Any) -> DynamoDBStore:
    names = table_names({})
    create_tables(client, names)
    return DynamoDBStore(names["KeysTable"], names["UsageTable"], names["SummaryTable"], names["IdempotencyTable"],
                         client=client)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    if request.param == "sqlite":
        yield SQLiteStore(tmp_path / "store.sqlite3")
        return
    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        yield dynamodb_store(AtomicCalls(boto3.client("dynamodb", region_name="us-east-1")))


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
