"""Key settings out of range are a 400 (admin API) or exit 2 (CLI) with nothing stored; rows stored before the
ranges were checked still render everywhere they are read, and their keys still work.

The bad values are the ones issue 15 found: a limit past float's range renders as Infinity, which JSON cannot
carry; an expiry whose UTC instant falls before year 1 cannot be formatted; an interval of 400 nines overflowed
the rate window's float arithmetic on every request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from lambdarouter.admin import cli
from lambdarouter.admin.keys import key_data
from lambdarouter.core.catalog import load_catalog
from lambdarouter.gateway.service import Gateway
from lambdarouter.http.app import create_app
from lambdarouter.store import KeySettings, RateLimit
from lambdarouter.store.sqlite import SQLiteStore
from tests.accounting import HELLO, completion_body
from tests.fakes.upstream import FakeUpstream, Reply
from tests.gateway import ADMIN_KEY, EXTRA_MODELS, UPSTREAM_KEY
from tests.stores import wait
from tests.test_store_dynamodb_app import Env

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
NINES = "9" * 400
# Each: a body field, a value out of range, and a word the 400's message must contain.
OUT_OF_RANGE: list[tuple[str, Any, str]] = [
    ("limit", "1E+309", "less than or equal to 1000000000"),
    ("limit", 1e308, "less than or equal to 1000000000"),
    ("limit", "NaN", "finite"),
    ("limit", "-Infinity", "finite"),
    ("limit", -0.01, "greater than or equal to 0"),
    ("limit", "1e-400", "decimal places"),
    ("limit", "0.0000000000001", "decimal places"),
    ("expires_at", "0001-01-01T00:00:00+14:00", "between 1970-01-01 and 9999-12-31"),
    ("expires_at", "9999-12-31T23:59:59-14:00", "between 1970-01-01 and 9999-12-31"),
    ("expires_at", "1969-12-31T23:59:59Z", "between 1970-01-01 and 9999-12-31"),
    ("expires_at", 1e20, "expires_at"),
    ("rate_limit", {"requests": 5, "interval": NINES + "s"}, "interval"),
    ("rate_limit", {"requests": 5, "interval": "367d"}, "at most 366d"),
    ("rate_limit", {"requests": 10**30, "interval": "1m"}, "less than or equal to 1000000000"),
    ("rate_limit", {"requests": 5, "interval": "0s"}, "at least 1"),
    ("allowed_models", ["openai/*"] * 257, "at most 256"),
    ("allowed_models", [""], "allowed_models.0"),
    ("name", "n" * 201, "at most 200"),
]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SQLite file of the in-process app, and of the CLI."""
    monkeypatch.setenv("LAMBDAROUTER_DB", str(tmp_path / "keys.sqlite3"))
    for name in ("LAMBDAROUTER_KEYS_TABLE", "LAMBDAROUTER_USAGE_TABLE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "keys.sqlite3"


@pytest.fixture
def store(db: Path) -> SQLiteStore:
    return SQLiteStore(db)


@pytest.fixture
def client(store: SQLiteStore, fake_upstream: FakeUpstream) -> Iterator[TestClient]:
    credentials = Env({"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": f"{fake_upstream.url}/v1",
                       "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY})
    app = create_app(gateway=Gateway(load_catalog(EXTRA_MODELS), store, credentials))
    with TestClient(app, base_url="http://testserver/api/v1", raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(("field", "value", "says"), OUT_OF_RANGE)
def test_out_of_range_settings_are_a_400_and_store_nothing(field: str, value: Any, says: str, client: TestClient,
                                                           store: SQLiteStore) -> None:
    existing = client.post("/keys", json={"name": "kept", "limit": 5}, headers=ADMIN).json()["data"]
    created = client.post("/keys", json={"name": "new", field: value}, headers=ADMIN)
    patched = client.patch(f"/keys/{existing['hash']}", json={field: value}, headers=ADMIN)
    for response in (created, patched):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == 400 and says in response.json()["error"]["message"]
    assert [k.name for k in wait(store.list_keys())] == ["kept"]
    assert client.get(f"/keys/{existing['hash']}", headers=ADMIN).json()["data"] == existing


@pytest.mark.parametrize(("field", "value"), [
    ("limit", 1_000_000_000), ("limit", "0.000000000001"), ("limit", "25.50000000000000000000"), ("limit", 0),
    ("expires_at", "1970-01-01T00:00:00Z"), ("expires_at", "9999-12-30T23:00:00-00:30"),
    ("rate_limit", {"requests": 1_000_000_000, "interval": "366d"}), ("rate_limit", {"requests": 1, "interval": "1s"}),
])
def test_the_edges_of_each_range_are_accepted(field: str, value: Any, client: TestClient) -> None:
    created = client.post("/keys", json={"name": "edge", field: value}, headers=ADMIN)
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--limit", "1E+309", "less than or equal to 1000000000"),
    ("--limit", "nan", "finite"),
    ("--limit", "-5", "greater than or equal to 0"),
    ("--limit", "lots", "decimal"),
    ("--expires-at", "0001-01-01T00:00:00+14:00", "between 1970-01-01 and 9999-12-31"),
    ("--rate-limit", f"5/{NINES}s", "interval"),
    ("--rate-limit", "10000000000/1m", "less than or equal to 1000000000"),
])
def test_the_cli_refuses_what_the_api_refuses(flag: str, value: str, says: str, store: SQLiteStore,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _, kept = wait(store.create_key("kept"))
    assert cli.main(["keys", "create", "--name", "new", flag, value]) == 2
    assert says in capsys.readouterr().err
    assert cli.main(["keys", "update", kept.hash, flag, value]) == 2
    assert says in capsys.readouterr().err
    assert wait(store.list_keys()) == [kept]


# Rows as an older gateway (or its CLI) could store them, written past the checks.
STORED_BAD_ROWS = [
    KeySettings("huge-limit", limit=Decimal("1E+309")),
    KeySettings("nan-limit", limit=Decimal("NaN")),
    KeySettings("year-zero", expires_at=-62135596800.0 - 14 * 3600),
    KeySettings("year-10000", expires_at=253402300800.0 + 86400),
    KeySettings("nines", rate_limit=RateLimit(5, int(NINES))),
]


def test_stored_bad_rows_still_render(client: TestClient, store: SQLiteStore,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    plaintexts = {s.name: wait(store.create_key(s.name, s))[0] for s in STORED_BAD_ROWS}
    listed = client.get("/keys", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    by_name = {k["name"]: k for k in listed.json()["data"]}
    assert by_name["huge-limit"]["limit"] == by_name["huge-limit"]["limit_remaining"] == 1.7976931348623157e308
    assert by_name["nan-limit"]["limit"] is None
    assert by_name["year-zero"]["expires_at"] == "0001-01-01T00:00:00Z"
    assert by_name["year-10000"]["expires_at"] == "9999-12-31T23:59:59.999999Z"
    assert (by_name["nines"]["rate_limit"]["requests"], by_name["nines"]["rate_limit"]["interval"]) == (5, f"{NINES}s")
    for key in by_name.values():
        assert client.get(f"/keys/{key['hash']}", headers=ADMIN).json()["data"] == key
    assert client.get("/credits", headers=ADMIN).status_code == 200
    for name, plaintext in plaintexts.items():
        own = client.get("/key", headers={"authorization": f"Bearer {plaintext}"})
        assert own.status_code == (401 if name == "year-zero" else 200), own.text  # year zero: long expired

    assert cli.main(["keys", "list", "--json"]) == 0
    assert {k["name"] for k in json.loads(capsys.readouterr().out)["data"]} == set(by_name)


def test_every_stored_key_renders_as_strict_json(store: SQLiteStore) -> None:
    for settings in STORED_BAD_ROWS:
        _, record = wait(store.create_key(settings.name, settings))
        json.dumps(key_data(record, 1_800_000_000.0), allow_nan=False)  # raises on NaN or Infinity


def test_a_stored_rate_interval_past_the_cap_counts_in_windows_of_the_cap(client: TestClient, store: SQLiteStore,
                                                                          fake_upstream: FakeUpstream) -> None:
    plaintext, _ = wait(store.create_key("nines", KeySettings("nines", rate_limit=RateLimit(2, int(NINES)))))
    fake_upstream.default = Reply.json(completion_body(3, 2))
    chat = {"model": "openai/gpt-4o", "messages": HELLO, "provider": {"only": ["openai"]}}
    answers = [client.post("/chat/completions", json=chat, headers={"authorization": f"Bearer {plaintext}"})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429], answers[-1].text
    assert answers[-1].json()["error"]["code"] == 429


@pytest.mark.parametrize("value", ["%C2%B2", "9" * 5000, "-1", "10000000000"])
def test_odd_page_numbers_are_a_400(value: str, client: TestClient) -> None:
    for route, name in (("/keys", "offset"), ("/generations", "limit")):
        response = client.get(f"{route}?{name}={value}", headers=ADMIN)
        assert response.status_code == 400, response.text
        assert name in response.json()["error"]["message"]


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_usage_periods_at_the_ends_of_time_are_no_server_error(when: str, client: TestClient) -> None:
    for name in ("since", "until"):
        response = client.get("/usage", params={name: when}, headers=ADMIN)
        assert response.status_code in (200, 400), response.text
