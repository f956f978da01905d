"""`lambdarouter serve` stops cleanly: the upstream client it pools connections in is closed at shutdown
(aiohttp otherwise leaves the session to the garbage collector, which may report "Unclosed client session")."""

from __future__ import annotations

import asyncio

from lambdarouter.admin import cli
from lambdarouter.providers import transport
from lambdarouter.providers.transport.aiohttp_backend import AiohttpBackend


def test_serve_lifespan_closes_the_upstream_client() -> None:
    async def shutdown_closes_session() -> tuple[bool, bool]:
        transport.use_backend("aiohttp")
        backend = transport._backend
        assert isinstance(backend, AiohttpBackend)
        session = backend.session()  # what the first upstream call of a running server creates
        async with cli._upstream_client(None):
            open_while_serving = not session.closed
        return open_while_serving, session.closed

    try:
        assert asyncio.run(shutdown_closes_session()) == (True, True)
    finally:
        transport.use_backend("httpx")  # the in-process apps of other tests run as on Lambda
