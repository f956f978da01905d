"""The DynamoDB side end to end, in process against moto in server mode (loopback): `store init`, the CLI, and
the app on DynamoDB.

(The subprocess gateway tests run on SQLite; here the same routes run against DynamoDB tables.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from starlette.testclient import TestClient

from lambdarouter.admin import cli
from lambdarouter.core.catalog import load_catalog
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import create_app
from lambdarouter.store import open_store, shared_store
from lambdarouter.store.dynamodb import DynamoDBStore
from lambdarouter.store.dynamodb_ledger import ledger_put
from lambdarouter.store.tables import TABLES, cloudformation_resources, table_names
from tests.accounting import HELLO, completion_body, exact_json, streamed_cost
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, EXTRA_MODELS, UPSTREAM_KEY
from tests.store_fixtures import generation
from tests.stores import ledger_rows, wait
from tests.test_chat_api import spaced_stream

TABLE_ENV = {"LAMBDAROUTER_KEYS_TABLE": "t-keys", "LAMBDAROUTER_USAGE_TABLE": "t-usage",
             "LAMBDAROUTER_SUMMARY_TABLE": "t-summary", "LAMBDAROUTER_IDEMPOTENCY_TABLE": "t-idem"}


@pytest.fixture
def aws(moto_aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh moto server (`moto_aws`: every AWS client pointed at it) and the tables' names."""
    for name, value in TABLE_ENV.items():
        monkeypatch.setenv(name, value)
    yield
    shared_store.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_store_init_creates_the_defined_tables(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "store", "init", "--json") == {"tables": [
        {"name": "t-keys", "status": "created"}, {"name": "t-usage", "status": "created"},
        {"name": "t-summary", "status": "created"}, {"name": "t-idem", "status": "created"}]}
    assert {t["status"] for t in run(capsys, "store", "init", "--json")["tables"]} == {"exists"}
    client = boto3.client("dynamodb", region_name="us-east-1")
    names = table_names()
    for table in TABLES:
        described = client.describe_table(TableName=names[table.logical_id])["Table"]
        wanted = cloudformation_resources()[table.logical_id]["Properties"]
        assert described["KeySchema"] == wanted["KeySchema"]
        assert sorted(described["AttributeDefinitions"], key=str) == sorted(wanted["AttributeDefinitions"], key=str)
        assert [i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])] == [
            i["IndexName"] for i in wanted.get("GlobalSecondaryIndexes", [])]
        ttl = client.describe_time_to_live(TableName=names[table.logical_id])["TimeToLiveDescription"]
        assert ttl.get("AttributeName") == table.ttl_attribute


def test_cli_keys_on_dynamodb(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "store", "init", "--json")
    created = run(capsys, "keys", "create", "--name", "ops", "--limit", "3", "--rate-limit", "10/1m", "--json")
    assert isinstance(open_store(), DynamoDBStore)
    listed = run(capsys, "keys", "list", "--json")["data"]
    assert [k["hash"] for k in listed] == [created["data"]["hash"]]
    assert listed[0]["rate_limit"]["requests"] == 10 and listed[0]["limit"] == 3


class Env:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def test_the_app_on_dynamodb(aws: None, fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "store", "init", "--json")
    store = open_store()
    credentials = Env({"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": f"{fake_upstream.url}/v1",
                       "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY})
    app = create_app(gateway=Gateway(load_catalog(EXTRA_MODELS), store, credentials))
    with TestClient(app, base_url="http://testserver/api/v1") as client:
        created = client.post("/keys", json={"name": "dyn", "limit": 0.05},
                              headers={"authorization": f"Bearer {ADMIN_KEY}"})
        assert created.status_code == 201, created.text
        key, key_hash = created.json()["key"], created.json()["data"]["hash"]
        auth = {"authorization": f"Bearer {key}"}
        told: dict[str, Decimal] = {}
        fake_upstream.reply(Reply.json(completion_body(100, 200)), path="/v1/chat/completions")
        answer = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO,
                                                        "max_tokens": 500}, headers={**auth, "idempotency-key": "k1"})
        assert answer.status_code == 200, answer.text
        told[answer.headers["x-generation-id"]] = Decimal(exact_json(answer.text)["usage"]["cost"])
        replay = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO,
                                                        "max_tokens": 500}, headers={**auth, "idempotency-key": "k1"})
        assert replay.content == answer.content and replay.headers["idempotent-replayed"] == "true"
        fake_upstream.reply(spaced_stream(["a ", "b"], 0.0), path="/v1/chat/completions")
        streamed = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO,
                                                          "max_tokens": 500, "stream": True}, headers=auth)
        told[streamed.headers["x-generation-id"]] = streamed_cost(streamed.text)
        refused = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO}, headers=auth)
        info = client.get("/key", headers=auth).json()["data"]
    assert refused.status_code == 402  # 16,384 output tokens at GPT-4o's price do not fit in what is left
    records = ledger_rows(store, key_hash)
    assert {r.id: r.cost for r in records} == told
    record = wait(store.find_key(key_hash))
    assert record is not None and record.usage == sum(told.values()) and record.holds == ()
    assert record.remaining == Decimal("0.05") - sum(told.values())
    assert info["usage"] == float(sum(told.values()))
    assert len(fake_upstream.requests) == 2


def test_store_backfill_counts_rows_older_than_the_aggregates_once(aws: None, capsys: pytest.CaptureFixture[str]
                                                                   ) -> None:
    """Rows an older version wrote (no `log_month`, no aggregates) are counted and indexed by `store backfill`,
    once: a second run, and rows settled since, change nothing."""
    run(capsys, "store", "init", "--json")
    store = open_store()
    assert isinstance(store, DynamoDBStore)
    _, key = wait(store.create_key("old"))
    hour = float(int(time.time() // 3600 * 3600 - 3600))  # the last whole hour: every row below is in it
    old = [generation(key.hash, f"gen-old-{i}", "0.25", created_at=hour + 10 - i) for i in range(3)]
    for row in old:  # as the previous version wrote them: the ledger row alone
        item = ledger_put(store.usage_table, row)["Put"]["Item"]
        del item["log_month"]
        store.client.put_item(TableName=store.usage_table, Item=item)
    assert wait(store.settle(generation(key.hash, "gen-new", "1", created_at=hour + 100), None, hour + 100))
    assert wait(store.usage(hour, hour + 3600, "hour"))[0].counters.requests == 1
    assert [r.id for r in wait(store.generations(None, 10)).records] == ["gen-new"]

    assert run(capsys, "store", "backfill", "--json") == {"counted": 3}
    assert run(capsys, "store", "backfill", "--json") == {"counted": 0}
    [counted] = wait(store.usage(hour, hour + 3600, "hour"))
    assert (counted.counters.requests, counted.counters.cost) == (4, Decimal("1.75"))
    assert [r.id for r in wait(store.generations(None, 10)).records] == ["gen-new", *(r.id for r in old)]
    assert wait(store.period_spend(key.hash, hour + 200))["daily"] == Decimal("1.75")


def test_a_dynamodb_store_without_its_summary_table_says_so(aws: None, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment older than its code (no SummaryTable variable) fails at once, naming the variable, rather than
    at its first settle."""
    monkeypatch.delenv("LAMBDAROUTER_SUMMARY_TABLE")
    assert cli.main(["keys", "list"]) == 2
    assert "LAMBDAROUTER_SUMMARY_TABLE is not set" in capsys.readouterr().err
