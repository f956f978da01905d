"""Schemathesis against a running `lambdarouter serve`'s own /openapi.json: no server error, every answer in spec.

Every documented operation gets generated requests three times over: with a gateway key, with an invalid key
and with the management key. The default budget keeps the suite fast; the full run is one command:

    LAMBDAROUTER_FUZZ_CASES=5000 .venv/bin/pytest -q tests/test_fuzz_api.py

The gateway here is its own process with its own SQLite file (keys created by the fuzzer must not leak into
other tests' listings), pointed at the shared fake upstream, which answers 500 to anything unscripted. So a
generated request naming a real model reaches "the provider" and the gateway answers its documented 502 (or 503
when no candidate is left): those two statuses are accepted on the inference routes only, and only as an error
envelope. Everything else at 5xx fails, and `status_code_conformance` still holds the 502/503 to the document.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fakes.upstream import FakeUpstream
from tests.gateway import ADMIN_KEY, RunningGateway, running_gateway

TOTAL_CASES = int(os.environ.get("LAMBDAROUTER_FUZZ_CASES", "300"))
IDENTITIES = ("gateway-key", "invalid-key", "admin-key")
INFERENCE = ("/chat/completions", "/completions", "/embeddings", "/responses")
# Anthropic's Messages API answers the same upstream failures in Anthropic's words: 500 api_error, or 529
# overloaded_error for an unconfigured host that another may replace (dialects/anthropic/errors.py).
MESSAGES = ("/messages", "/messages/count_tokens")
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Tally:
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def fuzz_gateway(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    RunningGateway
]:
    with running_gateway(tmp_path_factory.mktemp("fuzz"), fake_upstream_server.url) as running:
        yield running
    fake_upstream_server.reset()


def _authorization(identity: str, gateway: RunningGateway) -> str:
    return {"gateway-key": f"Bearer {gateway.key}", "invalid-key": "Bearer sk-lr-v1-not-a-real-key-000000",
            "admin-key": f"Bearer {ADMIN_KEY}"}[identity]


def _server_error_allowed(path: str, response: Any) -> bool:
    """502/503 from an inference route, as an error envelope: the fake upstream's default 500 (module docstring);
    on the Messages routes the same failures as Anthropic's 500 / 529 error."""
    try:
        body = response.json()
        error = body["error"]
    except (ValueError, KeyError, TypeError):
        return False
    if path.endswith(MESSAGES):
        return response.status_code in (500, 529) and body.get("type") == "error" and isinstance(error, dict) \
            and error.get("type") in ("api_error", "overloaded_error")
    if response.status_code not in (502, 503) or not path.endswith(INFERENCE):
        return False
    return isinstance(error, dict) and error.get("code") == response.status_code


def _fuzz_operation(operation: Any, budget: int, authorization: str, base_url: str, tally: Tally) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=budget, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        headers = {"authorization": authorization}
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        tally.cases += 1
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        checks = CHECKS if _server_error_allowed(operation.path, response) else [not_a_server_error, *CHECKS]
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (AssertionError, FailureGroup) as failure:
            if len(tally.failures) < 20:
                found = "; ".join(str(e).splitlines()[0] for e in getattr(failure, "exceptions", [failure]))
                tally.failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {found}"
                                      f"\n{response.text[:300]}")

    run()


@pytest.mark.parametrize("identity", IDENTITIES)
def test_generated_requests_get_no_server_error_and_match_the_spec(fuzz_gateway: RunningGateway,
                                                                   identity: str) -> None:
    base = fuzz_gateway.url.removesuffix("/api/v1")
    schema = schemathesis.openapi.from_url(f"{fuzz_gateway.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20  # every route under both prefixes
    share = TOTAL_CASES // len(IDENTITIES)
    budget = max(1, share // len(operations))
    tally = Tally()
    # Operations without parameters exhaust after one case: further rounds (fresh seeds) fill the share.
    for _ in range(10):
        for operation in operations:
            _fuzz_operation(operation, budget, _authorization(identity, fuzz_gateway), base, tally)
        if tally.cases >= share:
            break
    print(f"\nfuzz[{identity}]: {tally.cases} requests over {len(operations)} operations, statuses {tally.statuses}")
    assert tally.cases >= share
    assert not tally.failures, "\n\n".join(tally.failures)
    if identity == "invalid-key":  # nothing but the public routes answered it, and nothing took it for a key
        assert 403 not in tally.statuses, tally.statuses
        assert httpx.get(f"{fuzz_gateway.url}/key", headers={"authorization": _authorization(identity, fuzz_gateway)},
                         timeout=10).status_code == 401

