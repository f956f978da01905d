"""Helpers for the accounting tests: admin calls, keys with budgets, the ledger, exact client costs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from lambdarouter.store import GenerationRecord, KeyRecord
from lambdarouter.store.sqlite import SQLiteStore
from tests.gateway import ADMIN_KEY, RunningGateway
from tests.stores import ledger_rows, wait

HELLO = [{"role": "user", "content": "hi"}]
# Pinned to the OpenAI endpoint: the fake upstream scripts OpenAI's path, whatever else serves GPT-4o.
GPT4O: dict[str, Any] = {"model": "openai/gpt-4o", "provider": {"only": ["openai"]}}


def admin(gateway: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, timeout=15, headers={"authorization": f"Bearer {ADMIN_KEY}"})


def new_key(gateway: RunningGateway, **settings: Any) -> tuple[str, str]:
    """(plaintext, hash) of a fresh key created through POST /keys."""
    with admin(gateway) as client:
        response = client.post("/keys", json={"name": settings.pop("name", "test"), **settings})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["key"], body["data"]["hash"]


def as_key(gateway: RunningGateway, plaintext: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, timeout=20, headers={"authorization": f"Bearer {plaintext}"})


def ledger(gateway: RunningGateway) -> SQLiteStore:
    return SQLiteStore(Path(gateway.env["LAMBDAROUTER_DB"]))


def key_record(gateway: RunningGateway, key_hash: str) -> KeyRecord:
    record = wait(ledger(gateway).find_key(key_hash))
    assert record is not None
    return record


# How long a test waits for something another process or thread does: reached only when it never happens (a
# bound, not a timing claim; generous because the suite must pass on a machine busy with other work).
WAIT_LIMIT = 30.0


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_LIMIT) -> bool:
    """Whether `condition` became true, checked every 20 ms, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_for_records(gateway: RunningGateway, key_hash: str, count: int, timeout: float = WAIT_LIMIT) -> list[
    GenerationRecord
]:
    """The key's ledger rows once there are `count` of them (the gateway writes them as requests end)."""
    store = ledger(gateway)
    wait_until(lambda: len(ledger_rows(store, key_hash)) >= count, timeout)
    return ledger_rows(store, key_hash)


def exact_json(text: str) -> Any:
    """JSON with every number as the exact decimal the client received."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def streamed_cost(text: str) -> Decimal:
    """`usage.cost` of the last usage chunk of an SSE body, exactly as sent."""
    chunks = [exact_json(line[6:]) for line in text.splitlines()
              if line.startswith("data: ") and line != "data: [DONE]"]
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert usage, text
    return Decimal(usage[-1]["cost"])


def completion_body(prompt_tokens: int, completion_tokens: int, content: str = "ok") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
