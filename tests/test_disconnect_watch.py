"""The watcher that cancels a non-streamed request's work when its client leaves (http/body.py
`while_connected`): started only once the work has run a while, and then cancelling it as before."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from lambdarouter.core.errors import GatewayError
from lambdarouter.http import body
from lambdarouter.http.body import while_connected

LIMIT = 30.0  # seconds: a bound only a watcher that never fires meets


class Client:
    """What `while_connected` reads of a request: `receive`, counted; the client has left when `gone` is set."""

    def __init__(self) -> None:
        self.receives = 0
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.receives += 1
        await self.gone.wait()
        return {"type": "http.disconnect"}


def test_work_done_before_the_watch_starts_never_reads_from_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # The delay as long as the test's bound: a descheduled process on a busy machine cannot start the watch early.
    monkeypatch.setattr(body, "WATCH_AFTER_SECONDS", LIMIT)

    async def main() -> None:
        client = Client()

        async def work() -> str:
            for _ in range(20):  # loop iterations in which an eagerly started watcher would have run
                await asyncio.sleep(0)
            return "answer"

        assert await while_connected(client, work()) == "answer"  # type: ignore[arg-type]
        for _ in range(20):
            await asyncio.sleep(0)
        assert client.receives == 0  # no watcher task ran: none was started

    asyncio.run(main())


def test_a_client_that_left_cancels_work_that_outlasts_the_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(body, "WATCH_AFTER_SECONDS", 0.0)  # the watch starts at the next loop iteration
    cancelled: list[bool] = []

    async def main() -> None:
        client = Client()
        client.gone.set()  # left before the watch started: the server has recorded it, the watcher finds it
        never = asyncio.Event()

        async def work() -> str:
            try:
                await never.wait()
            except BaseException:
                cancelled.append(True)
                raise
            return "answer"

        with anyio.fail_after(LIMIT), pytest.raises(GatewayError) as raised:
            await while_connected(client, work())  # type: ignore[arg-type]
        assert raised.value.status == 499
        assert client.receives == 1

    asyncio.run(main())
    assert cancelled == [True]
