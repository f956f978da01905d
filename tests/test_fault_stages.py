"""Whatever raises, wherever: every generation ends with exactly one ledger row and its hold released (issue 15).

In process (SQLite, the fake upstream, Starlette's test client): each stage of the use-case path is made to raise
in turn, streamed and not, and the books are checked the same way every time. A stage that is the gateway's own
may answer 500 (a bug is a bug); the books hold all the same. Also here: endpoint health counts only the faults
of an upstream or of the way to it, never a client's bad request.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from lambdarouter.core.health import endpoint_key
from lambdarouter.gateway import books, chat, upstream
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import create_app
from lambdarouter.providers.openai.chat import OpenAIAdapter
from lambdarouter.providers.transport.httpx_backend import HttpxBackend
from lambdarouter.store.sqlite import SQLiteStore
from tests.accounting import HELLO, completion_body, exact_json
from tests.fakes.upstream import FakeUpstream, Reply
from tests.stores import ledger_rows, wait
from tests.test_accounting_paths import in_process_gateway, limited_key
from tests.test_chat_api import spaced_stream

PATH = "/v1/chat/completions"
GPT4O = {"model": "openai/gpt-4o", "messages": HELLO}


class Stage(RuntimeError):
    """What the patched stage raises."""


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "stages.sqlite3")


@pytest.fixture
def gateway(store: SQLiteStore, fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    return in_process_gateway(store, fake_upstream, monkeypatch)


@pytest.fixture
def client(gateway: Gateway) -> Iterator[TestClient]:
    app = create_app(gateway=gateway)
    with TestClient(app, base_url="http://testserver/api/v1", raise_server_exceptions=False) as test_client:
        yield test_client


def raising(*_: Any, **__: Any) -> Any:
    raise Stage("injected")


async def raising_async(*_: Any, **__: Any) -> Any:
    raise Stage("injected")


# (what raises, how it is patched in): every stage a generation passes once it holds money.
STAGES: dict[str, tuple[Any, str, Any]] = {
    "prepare the request": (chat.ChatOperation, "_call", raising_async),
    "build the provider request": (OpenAIAdapter, "build_request", raising),
    "send (the transport itself)": (HttpxBackend, "client", raising),
    "read the answer": (OpenAIAdapter, "parse_response", raising),
    "decode the stream": (OpenAIAdapter, "stream_decoder", raising),
    "count the outcome": (chat.ChatOperation, "outcome", raising),
    "count events": (books.Generation, "count", raising),
    "price": (chat.ChatOperation, "price", raising),
    "build the answer": (chat.ChatOperation, "answer", raising_async),
    "open the stream": (chat.ChatOperation, "open", raising_async),
    "read the first piece": (upstream.UpstreamStream, "peek", raising_async),
    "count a piece": (chat.ChatOperation, "events", raising),
    "render a chunk": (chat.ChatOperation, "chunk", raising),
    "render the ending": (chat.ChatOperation, "ending", raising),
    "record (observers)": (books.Books, "_observe", raising),
    "write the ledger (every try)": (SQLiteStore, "settle", raising_async),
}


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_that_raises_still_closes_the_books(stage: str, streamed: bool, client: TestClient,
                                                    store: SQLiteStore, fake_upstream: FakeUpstream,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Expected: one ledger row; no hold left; the key charged what the row says, which is what the client was
    told (an error answer tells $0). A lost ledger write is the one exception: logged in full, hold left to
    expire (tests/test_accounting_paths.py)."""
    auth, key_hash = limited_key(store)
    fake_upstream.reply(spaced_stream(["alpha ", "beta"], delay=0.0) if streamed
                        else Reply.json(completion_body(5, 6)), path=PATH)
    target, name, replacement = STAGES[stage]
    monkeypatch.setattr(target, name, replacement)
    response = client.post("/chat/completions", json={**GPT4O, "stream": streamed}, headers=auth)
    records = ledger_rows(store, key_hash)
    key = wait(store.find_key(key_hash))
    assert key is not None
    if stage == "write the ledger (every try)":
        assert records == [] and len(key.holds) == 1  # lost: logged in full (tests/test_accounting_paths.py)
        return
    [record] = records
    assert key.holds == () and key.usage == record.cost and key.remaining == 1 - record.cost
    told = _told(response.status_code, response.text)
    assert record.cost == told or told is None, (stage, response.text)


def _told(status: int, text: str) -> Decimal | None:
    """The cost the client was told: `usage.cost` of an answer or of a stream's last usage chunk; $0 for an error
    answer. None for a stream that broke off before its usage chunk (only the gateway's own failure to render it
    does that): it is booked as a stream the client left, at what was produced."""
    if status != 200:
        return Decimal(0)
    if text.startswith("data:"):
        usage = [exact_json(line[6:])["usage"] for line in text.splitlines()
                 if line.startswith("data: {") and '"usage"' in line]
        return Decimal(usage[-1]["cost"]) if usage else None
    return Decimal(exact_json(text)["usage"]["cost"])


# -- endpoint health: only an upstream's or the transport's fault counts -------------------------------------------

def test_a_clients_bad_request_does_not_mark_the_endpoint_unhealthy(client: TestClient, gateway: Gateway,
                                                                     fake_upstream: FakeUpstream) -> None:
    """Expected: Anthropic refuses temperature 1.5 before any call (the gateway's 400), and a private image URL
    the gateway would fetch for Gemini is refused before any fetch (400): both the client's; the endpoints stay
    healthy (they were put last for 60 s, for everyone, before). An upstream 500 does count."""
    auth, _ = limited_key(gateway.store)  # type: ignore[arg-type]
    anthropic = {"model": "resilience/anthropic-first", "messages": HELLO, "temperature": 1.5,
                 "provider": {"order": ["anthropic"], "allow_fallbacks": False}}
    assert client.post("/chat/completions", json=anthropic, headers=auth).status_code == 400
    image = {"model": "google/gemini-2.5-flash", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/cat.png"}}]}]}
    refused = client.post("/chat/completions", json=image, headers=auth)
    assert refused.status_code == 400, refused.text
    assert not fake_upstream.requests
    assert not gateway.health.failed_recently(endpoint_key("anthropic", "claude-sonnet-4-5"))
    assert not gateway.health.failed_recently(endpoint_key("google-ai-studio", "gemini-2.5-flash"))
    fake_upstream.reply(Reply.json({"type": "error", "error": {"type": "api_error", "message": "boom"}}, status=500),
                        path="/v1/messages")
    assert client.post("/chat/completions", json={**anthropic, "temperature": 0.5}, headers=auth).status_code == 502
    assert gateway.health.failed_recently(endpoint_key("anthropic", "claude-sonnet-4-5"))
