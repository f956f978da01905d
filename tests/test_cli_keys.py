"""`lambdarouter keys …` and `lambdarouter usage` against the SQLite store (in process)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lambdarouter.admin import cli
from lambdarouter.store import GenerationRecord, hash_key
from lambdarouter.store.sqlite import SQLiteStore
from tests.stores import wait


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("LAMBDAROUTER_DB", str(path))
    for name in ("LAMBDAROUTER_KEYS_TABLE", "LAMBDAROUTER_USAGE_TABLE"):
        monkeypatch.delenv(name, raising=False)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert cli.main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_keys_commands(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = run(capsys, "keys", "create", "--name", "app", "--label", "App", "--limit", "7.5", "--limit-reset",
                  "daily", "--expires-at", "2099-06-01", "--rate-limit", "30/1m", "--allowed-model", "openai/*",
                  "--allowed-model", "anthropic/claude-sonnet-4.5", "--json")
    plaintext, data = created["key"], created["data"]
    assert data["hash"] == hash_key(plaintext)
    assert (data["label"], data["limit"], data["limit_reset"], data["expires_at"]) == ("App", 7.5, "daily",
                                                                                       "2099-06-01T00:00:00Z")
    assert data["rate_limit"]["requests"] == 30 and data["rate_limit"]["interval"] == "1m"
    assert data["allowed_models"] == ["openai/*", "anthropic/claude-sonnet-4.5"]
    prefix = data["hash"][:10]
    assert run(capsys, "keys", "show", prefix, "--json")["data"] == data
    assert [k["hash"] for k in run(capsys, "keys", "list", "--json")["data"]] == [data["hash"]]

    updated = run(capsys, "keys", "update", prefix, "--limit", "none", "--rate-limit", "5/10s", "--any-model",
                  "--json")["data"]
    assert (updated["limit"], updated["rate_limit"]["requests"], updated["rate_limit"]["interval"],
            updated["allowed_models"]) == (None, 5, "10s", None)
    assert run(capsys, "keys", "disable", prefix, "--json")["data"]["disabled"] is True
    assert run(capsys, "keys", "update", prefix, "--enable", "--json")["data"]["disabled"] is False
    assert run(capsys, "keys", "delete", prefix, "--json") == {"deleted": True, "hash": data["hash"]}
    assert run(capsys, "keys", "list", "--json")["data"] == []
    assert plaintext not in db.read_bytes().decode("latin-1")


def test_keys_errors_exit_2(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "show", "deadbeef00"]) == 2
    assert cli.main(["keys", "create", "--name", "x", "--rate-limit", "lots"]) == 2
    assert cli.main(["keys", "create", "--name", "x", "--limit-reset", "hourly"]) == 2
    assert "error" in capsys.readouterr().err


def test_usage_sums_requests_tokens_and_cost(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SQLiteStore(db)
    _, a = wait(store.create_key("alpha"))
    _, b = wait(store.create_key("beta"))
    base = GenerationRecord(
        id="", key_hash=a.hash, created_at=1_700_000_000.0, model_requested="openai/gpt-4o", model="openai/gpt-4o",
        provider="openai", streamed=False, status="success", finish_reason="stop", native_finish_reason="stop",
        prompt_tokens=10, completion_tokens=5, cached_tokens=0, cache_write_tokens=0, reasoning_tokens=0,
        cost=Decimal("0.0001"), latency_ms=1, first_token_ms=1, attempts=(),
    )
    rows = [msgspec.structs.replace(base, id="g1"),
            msgspec.structs.replace(base, id="g2", created_at=1_700_086_400.0, cost=Decimal("0.00025")),
            msgspec.structs.replace(base, id="g3", key_hash=b.hash, model="anthropic/claude-sonnet-4.5",
                                provider="anthropic", cost=Decimal("0.003"))]
    for row in rows:
        wait(store.settle(row, None, row.created_at))
    by_key = run(capsys, "usage", "--json")
    assert by_key["total_cost"] == "0.00335"
    assert {r["key"].split()[0]: (r["requests"], r["cost"]) for r in by_key["data"]} == {
        "alpha": (2, "0.00035"), "beta": (1, "0.003")}
    by_model = run(capsys, "usage", "--by", "model", "--since", "2023-11-14T22:00:00Z", "--until", "2023-11-15",
                   "--json")
    assert {r["model"]: (r["requests"], r["prompt_tokens"], r["completion_tokens"]) for r in by_model["data"]} == {
        "openai/gpt-4o": (1, 10, 5), "anthropic/claude-sonnet-4.5": (1, 10, 5)}
    by_provider = run(capsys, "usage", "--by", "provider", "--json")
    assert {r["provider"]: r["cost"] for r in by_provider["data"]} == {"openai": "0.00035", "anthropic": "0.003"}
    assert cli.main(["usage", "--by", "provider"]) == 0
    assert "total" in capsys.readouterr().out
