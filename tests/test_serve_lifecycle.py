"""`lambdarouter serve` starts and stops cleanly: the gateway is built and the collector tuned before the first
request (docs/performance.md: the collector's cost under load), and the upstream client it pools connections in is
closed at shutdown (aiohttp otherwise leaves the session to the garbage collector, which may report "Unclosed
client session")."""

from __future__ import annotations

import asyncio
import gc

import pytest

from lambdarouter.admin import cli
from lambdarouter.providers import transport
from lambdarouter.providers.transport.aiohttp_backend import AiohttpBackend


def test_serve_lifespan_closes_the_upstream_client(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[bool] = []
    monkeypatch.setattr(cli, "_build_gateway", lambda: built.append(True))  # not this process's default store
    before = gc.get_threshold()

    async def shutdown_closes_session() -> tuple[bool, bool]:
        transport.use_backend("aiohttp")
        backend = transport._backend
        assert isinstance(backend, AiohttpBackend)
        session = backend.session()  # what the first upstream call of a running server creates
        async with cli._upstream_client(None):
            open_while_serving = not session.closed
            # Built before the first request, then moved out of the collector's way; the youngest generation
            # collected only every SERVE_GC_THRESHOLD net allocations.
            assert built == [True]
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == (cli.SERVE_GC_THRESHOLD, *before[1:])
        return open_while_serving, session.closed

    try:
        assert asyncio.run(shutdown_closes_session()) == (True, True)
    finally:
        transport.use_backend("httpx")  # the in-process apps of other tests run as on Lambda
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
