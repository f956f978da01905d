from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.gateway import RunningGateway, running_gateway

pytest_plugins = ["tests.fakes.fixtures", "tests.store_fixtures"]


@pytest.fixture(scope="session")
def gateway(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    RunningGateway
]:
    """One `lambdarouter serve` process for the session, its OpenAI upstream being the fake."""
    with running_gateway(tmp_path_factory.mktemp("gateway"), fake_upstream_server.url) as running:
        yield running


@pytest.fixture
def client(gateway: RunningGateway, fake_upstream: FakeUpstream) -> openai.OpenAI:
    """The official SDK, as an application developer would point it at the gateway."""
    return openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0, timeout=15)


@pytest.fixture
def http(gateway: RunningGateway, fake_upstream: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=15,
                      headers={"authorization": f"Bearer {gateway.key}"}) as session:
        yield session


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
