"""DynamoDB faults during auth, reservation, settlement and ledger writes (moto, with injected errors).

The DynamoDB client the store uses (lambdarouter/aws, over loopback to moto in server mode) is wrapped so
chosen operations raise what it raises once its own retries are spent: `ThrottlingException` /
`ProvisionedThroughputExceededException` (HTTP 400) or `InternalServerError` (HTTP 500)
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html). What must
hold: auth fails closed, a failed reservation is a clean error with nothing charged and nothing sent upstream, and
settlement is retried until the books are right: one ledger row per answer, charged exactly once, equal to what
the client was told.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from lambdarouter.admin import cli
from lambdarouter.aws.client import AwsError
from lambdarouter.core.catalog import load_catalog
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import create_app
from lambdarouter.store import dynamodb as dynamodb_module
from lambdarouter.store import open_store, shared_store
from lambdarouter.store.dynamodb import DynamoDBStore
from tests.accounting import HELLO, completion_body, exact_json
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, EXTRA_MODELS, UPSTREAM_KEY
from tests.store_fixtures import atomic_client
from tests.stores import ledger_rows, wait
from tests.test_store_dynamodb_app import TABLE_ENV, Env

FAULTS = {
    "ThrottlingException": 400, "ProvisionedThroughputExceededException": 400, "InternalServerError": 500,
}
CHAT = {"model": "openai/gpt-4o", "messages": HELLO, "max_tokens": 500}


class FaultyClient:
    """Delegates to the store's client at moto; `fail(op, n, code)` makes the next n calls of `op` raise (before
    or, with `after=True`, after the real call went through: the write happened but its answer was lost)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.plans: dict[str, list[tuple[str, bool]]] = {}
        self.raised: dict[str, int] = {}

    def fail(self, operation: str, times: int, code: str = "ThrottlingException", after: bool = False) -> None:
        self.plans[operation] = [(code, after)] * times

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if not callable(attribute) or name not in self.plans:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            plan = self.plans.get(name)
            if not plan:
                return attribute(*args, **kwargs)
            code, after = plan.pop(0)
            if after:
                attribute(*args, **kwargs)
            self.raised[name] = self.raised.get(name, 0) + 1
            raise AwsError(name, code, FAULTS[code], "injected", {"__type": code, "message": "injected"})
        return call


@pytest.fixture
def faulty(moto_aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyClient]:
    for name, value in TABLE_ENV.items():
        monkeypatch.setenv(name, value)
    client = FaultyClient(atomic_client(moto_aws))
    monkeypatch.setattr(dynamodb_module, "_client", client)
    assert cli.main(["store", "init", "--json"]) == 0
    yield client
    shared_store.cache_clear()


@pytest.fixture
def app_client(faulty: FaultyClient, fake_upstream: FakeUpstream) -> Iterator[TestClient]:
    credentials = Env({"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": f"{fake_upstream.url}/v1",
                       "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY})
    app = create_app(gateway=Gateway(load_catalog(EXTRA_MODELS), open_store(), credentials))
    with TestClient(app, base_url="http://testserver/api/v1", raise_server_exceptions=False) as client:
        yield client


def _store() -> DynamoDBStore:
    store = open_store()
    assert isinstance(store, DynamoDBStore)
    return store


def _key(client: TestClient, limit: float | None = 1.0) -> tuple[dict[str, str], str]:
    created = client.post("/keys", json={"name": "faults", "limit": limit},
                          headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert created.status_code == 201, created.text
    return {"authorization": f"Bearer {created.json()['key']}"}, created.json()["data"]["hash"]


def _clean_error(response: Any, statuses: tuple[int, ...]) -> dict[str, Any]:
    assert response.status_code in statuses, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == response.status_code and error["message"]
    assert "injected" not in response.text and "Traceback" not in response.text
    return error


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_auth_fails_closed_when_the_key_lookup_fails(app_client: TestClient, faulty: FaultyClient,
                                                     fake_upstream: FakeUpstream, code: str) -> None:
    auth, _ = _key(app_client)
    faulty.fail("get_item", 1, code)
    refused = app_client.post("/chat/completions", json=CHAT, headers=auth)
    _clean_error(refused, (401, 503))
    faulty.fail("get_item", 1, code)
    _clean_error(app_client.get("/key", headers=auth), (401, 503))
    assert faulty.raised["get_item"] == 2
    assert fake_upstream.requests == []


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_a_failed_reservation_charges_nothing_and_calls_no_provider(app_client: TestClient, faulty: FaultyClient,
                                                                    fake_upstream: FakeUpstream, code: str) -> None:
    auth, key_hash = _key(app_client)
    faulty.fail("update_item", 1, code)  # the conditional update that takes the hold
    _clean_error(app_client.post("/chat/completions", json=CHAT, headers=auth), (500, 503))
    assert faulty.raised["update_item"] == 1
    assert fake_upstream.requests == []
    record = wait(_store().find_key(key_hash))
    assert record is not None and record.usage == 0 and record.holds == () and record.remaining == Decimal(1)
    assert ledger_rows(_store(), key_hash) == []


def _told(response: Any) -> tuple[str, Decimal]:
    assert response.status_code == 200, response.text
    return response.headers["x-generation-id"], Decimal(exact_json(response.text)["usage"]["cost"])


def _reconcile(key_hash: str, told: dict[str, Decimal]) -> None:
    """Every answer has exactly one ledger row at the price the client was told; the key was charged that sum."""
    rows = ledger_rows(_store(), key_hash)
    assert sorted(r.id for r in rows) == sorted(told)
    assert {r.id: r.cost for r in rows} == told
    record = wait(_store().find_key(key_hash))
    assert record is not None and record.holds == ()
    assert record.usage == sum(told.values()) and record.remaining == Decimal(1) - sum(told.values())


@pytest.mark.parametrize(("code", "after"), [(c, False) for c in sorted(FAULTS)] + [("InternalServerError", True)])
def test_settlement_faults_are_retried_without_double_charge(app_client: TestClient, faulty: FaultyClient,
                                                             fake_upstream: FakeUpstream, code: str,
                                                             after: bool) -> None:
    """Two failed transactions then success; `after`: the first write committed but its answer was lost, so the
    retry finds the ledger row (idempotent by generation id) and must not charge again."""
    auth, key_hash = _key(app_client)
    told: dict[str, Decimal] = {}
    for _ in range(3):
        faulty.fail("transact_write_items", 2 if not after else 1, code, after=after)
        fake_upstream.reply(Reply.json(completion_body(100, 200)), path="/v1/chat/completions")
        generation, cost = _told(app_client.post("/chat/completions", json=CHAT, headers=auth))
        told[generation] = cost
    assert faulty.raised["transact_write_items"] == (6 if not after else 3)
    _reconcile(key_hash, told)


def test_a_ledger_write_for_a_key_without_limit_is_retried(app_client: TestClient, faulty: FaultyClient,
                                                           fake_upstream: FakeUpstream) -> None:
    auth, key_hash = _key(app_client, limit=None)
    faulty.fail("transact_write_items", 3, "ProvisionedThroughputExceededException")
    fake_upstream.reply(Reply.json(completion_body(10, 20)), path="/v1/chat/completions")
    generation, cost = _told(app_client.post("/chat/completions", json=CHAT, headers=auth))
    assert [(r.id, r.cost) for r in ledger_rows(_store(), key_hash)] == [(generation, cost)]


def test_a_ledger_write_lost_after_every_retry_is_logged_in_full(app_client: TestClient, faulty: FaultyClient,
                                                                 fake_upstream: FakeUpstream,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Past the retries the row is not dropped silently: the whole record is in the error log to replay."""
    auth, key_hash = _key(app_client)
    faulty.fail("transact_write_items", 10, "InternalServerError")
    fake_upstream.reply(Reply.json(completion_body(100, 200)), path="/v1/chat/completions")
    with caplog.at_level(logging.WARNING, logger="lambdarouter.gateway.books"):
        generation, cost = _told(app_client.post("/chat/completions", json=CHAT, headers=auth))
    lost = [r for r in caplog.records if "LEDGER WRITE LOST" in r.getMessage()]
    assert len(lost) == 1 and generation in lost[0].getMessage()
    logged = json.loads(lost[0].getMessage().split("record: ", 1)[1])
    assert logged["id"] == generation and Decimal(str(logged["cost"])) == cost
    assert faulty.raised["transact_write_items"] == 4  # the first try and three retries (books.SETTLE_BACKOFF)
    assert ledger_rows(_store(), key_hash) == []
