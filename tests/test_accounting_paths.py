"""Every way a generation can end writes exactly one ledger row (in process, SQLite, fake upstream)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.testclient import TestClient

from lambdarouter.core.catalog import load_catalog
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.gateway import books
from lambdarouter.gateway.chat import ChatOperation
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import create_app
from lambdarouter.store import GenerationRecord, Hold, KeySettings
from lambdarouter.store.sqlite import SQLiteStore
from tests.accounting import HELLO, completion_body, exact_json, streamed_cost
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import EXTRA_MODELS, UPSTREAM_KEY
from tests.stores import ledger_rows, wait
from tests.test_chat_api import spaced_stream

PATH = "/v1/chat/completions"


class Env:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


class FlakyStore(SQLiteStore):
    """Its ledger writes fail `failures` times before they work (-1: always)."""

    failures = 0
    attempts = 0

    async def settle(self, record: GenerationRecord, hold: Hold | None, now: float) -> bool:
        self.attempts += 1
        if self.failures == -1 or self.attempts <= self.failures:
            raise OSError("disk on fire")
        return await super().settle(record, hold, now)


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    return FlakyStore(tmp_path / "paths.sqlite3")


def in_process_gateway(store: SQLiteStore, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    """A gateway in this process on `store`, its OpenAI, Anthropic and Gemini hosts the fake upstream; ledger
    retries without waiting."""
    monkeypatch.setattr(books, "SETTLE_BACKOFF", (0.01, 0.01, 0.01))
    credentials = Env({"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": f"{upstream.url}/v1",
                       "ANTHROPIC_API_KEY": UPSTREAM_KEY, "ANTHROPIC_BASE_URL": upstream.url,
                       "GEMINI_API_KEY": UPSTREAM_KEY, "GEMINI_BASE_URL": upstream.url})
    return Gateway(load_catalog(EXTRA_MODELS), store, credentials)


@pytest.fixture
def gateway(store: FlakyStore, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    return in_process_gateway(store, fake_upstream, monkeypatch)


@pytest.fixture
def client(gateway: Gateway) -> Iterator[TestClient]:
    with TestClient(create_app(gateway=gateway), base_url="http://testserver/api/v1") as test_client:
        yield test_client


def limited_key(store: SQLiteStore, limit: str = "1") -> tuple[dict[str, str], str]:
    plaintext, record = wait(store.create_key("k", KeySettings("k", limit=Decimal(limit))))
    return {"authorization": f"Bearer {plaintext}"}, record.hash


def test_failed_generation_is_recorded_at_zero_and_releases_its_hold(client: TestClient, store: FlakyStore,
                                                                      fake_upstream: FakeUpstream) -> None:
    auth, key_hash = limited_key(store)
    fake_upstream.reply(Reply.json({"error": {"message": "bad"}}, status=400), path=PATH)
    response = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO}, headers=auth)
    assert response.status_code == 400
    [record] = ledger_rows(store, key_hash)
    assert (record.status, record.cost, record.error) == ("error", Decimal(0), "openai: bad")
    key = wait(store.find_key(key_hash))
    assert key is not None and (key.remaining, key.usage, key.holds) == (Decimal(1), Decimal(0), ())


def test_mid_stream_failure_charges_what_was_produced(client: TestClient, store: FlakyStore,
                                                      fake_upstream: FakeUpstream) -> None:
    auth, key_hash = limited_key(store)
    reply = spaced_stream(["alpha ", "beta ", "gamma ", "delta"], delay=0.0)
    fake_upstream.reply(Reply(status=200, headers=reply.headers, chunks=reply.chunks, reset_after_chunks=2), path=PATH)
    response = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO, "stream": True},
                           headers=auth)
    told = streamed_cost(response.text)
    [record] = ledger_rows(store, key_hash)
    assert record.status == "error" and record.usage_estimated and record.completion_tokens >= 2
    assert record.cost == told > 0
    key = wait(store.find_key(key_hash))
    assert key is not None and key.usage == told and key.remaining == 1 - told


def test_ledger_writes_are_retried(client: TestClient, store: FlakyStore, fake_upstream: FakeUpstream) -> None:
    store.failures = 2
    auth, key_hash = limited_key(store)
    fake_upstream.reply(Reply.json(completion_body(5, 6)), path=PATH)
    response = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO}, headers=auth)
    assert response.status_code == 200
    [record] = ledger_rows(store, key_hash)
    assert store.attempts == 3 and record.cost == Decimal(exact_json(response.text)["usage"]["cost"])


def test_a_lost_ledger_write_is_logged_in_full(client: TestClient, store: FlakyStore, fake_upstream: FakeUpstream,
                                               caplog: pytest.LogCaptureFixture) -> None:
    store.failures = -1
    auth, _ = limited_key(store)
    fake_upstream.reply(Reply.json(completion_body(5, 6)), path=PATH)
    with caplog.at_level(logging.WARNING, logger="lambdarouter.gateway.books"):
        response = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO}, headers=auth)
    assert response.status_code == 200  # the client's answer never waits on the ledger's fate
    lost = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lost) == 1 and store.attempts == 4
    message = lost[0].getMessage()
    assert response.headers["x-generation-id"] in message and '"cost":"' in message and '"prompt_tokens":5' in message
    assert auth["authorization"].split()[1] not in caplog.text


def test_a_stream_never_read_is_recorded_as_aborted(gateway: Gateway, store: FlakyStore,
                                                    fake_upstream: FakeUpstream) -> None:
    """The client left before the first byte: the response's background task still closes the books."""
    _, key_hash = limited_key(store)
    key = wait(store.find_key(key_hash))
    assert key is not None
    fake_upstream.reply(spaced_stream(["a", "b"], delay=0.0), path=PATH)
    request = ChatCompletionRequest.model_validate({"model": "openai/gpt-4o", "messages": HELLO, "stream": True})

    async def never_read() -> Any:
        streamed = await gateway.run_stream(ChatOperation(request), key)
        assert (await store.find_key(key_hash)).holds != ()  # type: ignore[union-attr]
        await streamed.relay.close()
        await streamed.relay.close()  # idempotent
        return streamed.id

    generation_id = anyio.run(never_read)
    [record] = ledger_rows(store, key_hash)
    assert record.id == generation_id and record.status == "aborted"
    after = wait(store.find_key(key_hash))
    assert after is not None and after.holds == () and after.usage == record.cost


@pytest.mark.parametrize("stream", [False, True])
def test_each_candidate_is_quoted_once_per_request(client: TestClient, store: FlakyStore, fake_upstream: FakeUpstream,
                                                   monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    """Admission's quote of the served endpoint is also its charge's ceiling: never computed a second time."""
    quoted: list[int] = []
    original = ChatOperation.quote

    def counted(self: ChatOperation, candidate: Any) -> Any:
        quoted.append(id(candidate))
        return original(self, candidate)

    monkeypatch.setattr(ChatOperation, "quote", counted)
    auth, key_hash = limited_key(store)
    reply = spaced_stream(["alpha ", "beta"], delay=0.0) if stream else Reply.json(completion_body(5, 6))
    fake_upstream.reply(reply, path=PATH)
    response = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO, "stream": stream},
                           headers=auth)
    assert response.status_code == 200
    told = streamed_cost(response.text) if stream else Decimal(exact_json(response.text)["usage"]["cost"])
    [record] = ledger_rows(store, key_hash)
    assert quoted and len(quoted) == len(set(quoted))
    assert record.cost == told > 0


def test_an_answers_books_are_priced_once(client: TestClient, store: FlakyStore, fake_upstream: FakeUpstream,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The books closed before the answer was built are those the ledger gets: not priced again when written."""
    priced: list[bool] = []
    original = books.Generation.close_books

    def counted(self: books.Generation, charged: bool = True) -> None:
        priced.append(charged)
        original(self, charged)

    monkeypatch.setattr(books.Generation, "close_books", counted)
    auth, key_hash = limited_key(store)
    fake_upstream.reply(Reply.json(completion_body(5, 6)), path=PATH)
    response = client.post("/chat/completions", json={"model": "openai/gpt-4o", "messages": HELLO}, headers=auth)
    assert response.status_code == 200
    [record] = ledger_rows(store, key_hash)
    assert priced == [True]
    assert record.cost == Decimal(exact_json(response.text)["usage"]["cost"]) > 0
