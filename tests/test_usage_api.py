"""The dashboard's admin routes: GET /usage, /generations, /generations/{id}, /hosts (management key only)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from lambdarouter.admin.usage import time_series
from lambdarouter.store.model import GenerationRecord
from lambdarouter.store.summary import UsageRow, histogram_bin, percentile, summarize
from tests.accounting import GPT4O, HELLO, admin, as_key, completion_body, new_key, wait_for_records
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import UPSTREAM_KEY, RunningGateway

UPSTREAM_PATH = "/v1/chat/completions"
ADMIN_PATHS = ["/usage", "/generations", "/generations/gen-unknown", "/hosts"]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_routes_need_the_management_key(gateway: RunningGateway, path: str) -> None:
    anonymous = httpx.get(gateway.url + path, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"]["code"] == 401
    with as_key(gateway, gateway.key) as client:
        refused = client.get(path)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == 403


def test_a_call_shows_in_usage_and_the_request_log(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, name="usage-api")
    fake_upstream.reply(Reply.json(completion_body(7, 5)), path=UPSTREAM_PATH)
    with as_key(gateway, plaintext) as client:
        answer = client.post("/chat/completions", json={**GPT4O, "messages": HELLO})
    assert answer.status_code == 200, answer.text
    generation_id = answer.headers["x-generation-id"]
    assert wait_for_records(gateway, key_hash, 1)

    with admin(gateway) as client:
        report = client.get("/usage", params={"by": "key", "bucket": "hour"}).json()["data"]
        mine = [g for g in report["groups"] if g["group"].endswith(key_hash[:12])]
        assert len(mine) == 1 and mine[0]["group"].startswith("usage-api")
        assert (mine[0]["requests"], mine[0]["tokens"], mine[0]["errors"]) == (1, 12, 0)
        assert mine[0]["cost"] > 0 and mine[0]["latency_p50"] is not None
        assert len(report["series"]) in (24, 25)  # a day of hours, the first one partial
        in_series = [s["groups"][mine[0]["group"]] for s in report["series"] if mine[0]["group"] in s["groups"]]
        assert [s["requests"] for s in in_series] == [1]
        assert report["totals"]["requests"] >= 1

        log = client.get("/generations", params={"key": key_hash}).json()
        assert log["next_cursor"] is None
        [entry] = log["data"]
        assert (entry["id"], entry["key_hash"], entry["key_name"]) == (generation_id, key_hash, "usage-api")
        assert (entry["tokens_prompt"], entry["tokens_completion"], entry["status"]) == (7, 5, "success")
        # Newest first across all keys. Ledger times are whole seconds (the answer's `created`), so a request of
        # another test in the same second may share the top time: ours is among the newest.
        newest = client.get("/generations", params={"limit": 20}).json()["data"]
        stamps = [e["created_at"] for e in newest]
        assert stamps == sorted(stamps, reverse=True)
        assert generation_id in [e["id"] for e in newest if e["created_at"] == stamps[0]]

        detail = client.get(f"/generations/{generation_id}").json()["data"]
        assert detail["provider_responses"] == [{"provider": "openai", "status": 200,
                                                 "latency": detail["provider_responses"][0]["latency"]}]
        assert detail["total_cost"] == entry["total_cost"] and plaintext not in str(detail)
        assert client.get("/generations/gen-does-not-exist").status_code == 404


@pytest.mark.parametrize(("params", "says"), [
    ({"bucket": "week"}, "bucket"),
    ({"by": "colour"}, "by"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, "since"),
    ({"since": "2000-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z", "bucket": "hour"}, "at most"),
])
def test_bad_usage_queries_are_400(gateway: RunningGateway, params: dict[str, str], says: str) -> None:
    with admin(gateway) as client:
        response = client.get("/usage", params=params)
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]["message"]


def test_the_request_log_pages_by_cursor(gateway: RunningGateway, fake_upstream: FakeUpstream) -> None:
    plaintext, key_hash = new_key(gateway, name="log-pages")
    told = []
    with as_key(gateway, plaintext) as client:
        for _ in range(3):
            fake_upstream.reply(Reply.json(completion_body(7, 5)), path=UPSTREAM_PATH)
            told.append(client.post("/chat/completions", json={**GPT4O, "messages": HELLO}).headers["x-generation-id"])
    assert wait_for_records(gateway, key_hash, 3)
    seen: list[str] = []
    cursor: str | None = None
    with admin(gateway) as client:
        for _ in range(3):
            page = client.get("/generations", params={"key": key_hash, "limit": 1, **({"cursor": cursor} if cursor
                                                                                      else {})}).json()
            seen += [entry["id"] for entry in page["data"]]
            cursor = page["next_cursor"]
        assert cursor is None and sorted(seen) == sorted(told) and len(set(seen)) == 3
        refused = client.get("/generations", params={"cursor": "not-a-cursor"})
    assert refused.status_code == 400 and "cursor" in refused.json()["error"]["message"]


def test_hosts_say_configured_without_values(gateway: RunningGateway) -> None:
    with admin(gateway) as client:
        response = client.get("/hosts")
    assert response.status_code == 200
    hosts = {h["name"]: h for h in response.json()["data"]}
    assert hosts["openai"]["configured"] is True and "openai/gpt-4o" in hosts["openai"]["models"]
    assert hosts["xai"]["configured"] is False  # the test gateway has no XAI_API_KEY
    assert UPSTREAM_KEY not in response.text and "aws-secret-for-tests" not in response.text


def _rows(records: list[GenerationRecord]) -> list[UsageRow]:
    """The hour aggregates a store keeps of these rows."""
    return [UsageRow(*identity, counters) for identity, counters in summarize(records, ["hour"]).items()]


def _row(created_at: float, latency: int, status: str = "success", first: int | None = None) -> GenerationRecord:
    return GenerationRecord(f"gen-{created_at}", "h" * 64, created_at, "openai/gpt-4o", "openai/gpt-4o", "openai",
                            False, status, "stop", "stop", 3, 4, 0, 0, 0, Decimal("0.5"), latency, first,
                            (("openai", 200, latency),))


def test_time_series_buckets_and_percentiles() -> None:
    rows = [_row(3600 * 10 + 5, 100), _row(3600 * 10 + 50, 300, "error", 40), _row(3600 * 12, 200)]
    report = time_series(_rows(rows), 3600 * 10, 3600 * 13, "hour", "provider", {})
    assert [s["requests"] for s in report["series"]] == [2, 0, 1]
    assert report["series"][0]["errors"] == 1 and report["series"][0]["ttft_p50"] == 40
    assert report["series"][1]["latency_p50"] is None
    totals = report["totals"]
    assert (totals["requests"], totals["tokens"], totals["cost"], totals["latency_p95"]) == (3, 21, 1.5, 300)
    assert report["groups"][0]["group"] == "openai"
    # Nearest rank, over histograms of milliseconds to two significant digits (exact below 100).
    assert percentile({5: 1, 1: 1, 3: 1, 2: 1, 4: 1}, 0.5) == 3 and percentile({1: 4, 100: 1}, 0.95) == 100
    assert percentile({}, 0.5) is None
    assert [histogram_bin(ms) for ms in (0, 99, 100, 812, 1234, 12_345, 987_654)] == [
        0, 99, 100, 810, 1200, 12_000, 980_000]
