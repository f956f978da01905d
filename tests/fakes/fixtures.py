"""Pytest fixtures for the fake upstream.

One :class:`FakeUpstream` server is started per test session (``fake_upstream_server``, session scope,
for speed) and ``fake_upstream`` (function scope) hands it to each test after ``reset()`` (queue,
recorded requests, errors and ``default`` cleared), so tests never see each other's scripts. Since the
server is shared, ``fake_upstream.url`` is the same for every test in a session.

Enable them in a conftest.py or a test module with::

    pytest_plugins = ["tests.fakes.fixtures"]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway import free_port


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    """The session-wide fake upstream server (prefer ``fake_upstream``, which resets it per test)."""
    with FakeUpstream() as upstream:
        yield upstream


def _fresh(server: FakeUpstream) -> Iterator[FakeUpstream]:
    server.reset()
    yield server
    errors = server.errors
    server.reset()
    if errors:
        pytest.fail("fake upstream server errors:\n" + "\n".join(errors))


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """A started, freshly reset :class:`FakeUpstream`; fails the test if the server itself crashed."""
    yield from _fresh(fake_upstream_server)


@pytest.fixture(scope="module")
def own_upstream_server() -> Iterator[FakeUpstream]:
    """A fake upstream of the test module's own, for a suite whose gateway must not share the session's."""
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def own_upstream(own_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """`own_upstream_server`, freshly reset, as `fake_upstream` is."""
    yield from _fresh(own_upstream_server)


@contextmanager
def running_moto() -> Iterator[str]:
    """A moto server on loopback (DynamoDB, Secrets Manager, S3 ...): its URL. Empty at the start: moto's
    backends live in the process, shared by every server and `mock_aws` in it, so what an earlier test left there
    is reset away."""
    from moto.server import ThreadedMotoServer  # only the modules that use it pay its import

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    reset_moto(url)
    try:
        yield url
    finally:
        server.stop()


def reset_moto(url: str) -> None:
    """Every resource of the moto server at `url` gone (its `/moto-api/reset`)."""
    import httpx

    httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """A moto server for a module's processes that reach AWS by URL."""
    with running_moto() as url:
        yield url
