"""Store calls from synchronous test code: the store's seam is async (lambdarouter/store/protocols.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from lambdarouter.store import GenerationRecord, Ledger

T = TypeVar("T")


async def _result(awaitable: Awaitable[T]) -> T:
    return await awaitable


def wait(awaitable: Awaitable[T]) -> T:
    """The result of one store call, on an event loop of its own (`wait(store.find_key(h))`).

    Not `asyncio.run`/`anyio.run`: they leave the thread's event loop set to None, and Mangum (the Lambda
    handlers these tests also call) asks `asyncio.get_event_loop()` for one afterwards."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_result(awaitable))
    finally:
        loop.close()


async def all_generations(ledger: Ledger, key_hash: str | None = None) -> list[GenerationRecord]:
    """Every ledger row (of one key, or all), oldest first: the request log read page by page to its end."""
    rows: list[GenerationRecord] = []
    cursor: str | None = None
    for _ in range(10_000):  # bounded: a page is at least one row
        page = await ledger.generations(key_hash, 500, cursor)
        rows.extend(page.records)
        if page.next_cursor is None:
            return rows[::-1]
        cursor = page.next_cursor
    raise AssertionError("the request log did not end")


def ledger_rows(ledger: Ledger, key_hash: str | None = None) -> list[GenerationRecord]:
    return wait(all_generations(ledger, key_hash))
