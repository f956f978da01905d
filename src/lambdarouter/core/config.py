"""Process settings, read once from the environment with the design's names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_db_path() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "lambdarouter" / "db.sqlite3"


@dataclass(frozen=True, slots=True)
class Settings:
    db_path: Path
    config_path: Path | None
    admin_key: str | None
    connect_timeout: float
    read_timeout: float
    # Until the first byte of a stream, or the whole of a non-streamed answer, across every failover and retry.
    request_deadline: float
    retry_rounds: int  # 1 = every candidate once, no retries
    # The longest a stream may run, from its arrival (Lambda's own limit, 15 minutes, by default): `serve` ends
    # a stream there too, with an error chunk and its cost, so that none outlives its budget hold.
    stream_limit: float = 900.0
    # DynamoDB (AWS): used instead of SQLite when the keys and usage tables are both named.
    keys_table: str | None = None
    usage_table: str | None = None
    idempotency_table: str | None = None
    summary_table: str | None = None  # the usage aggregates (store/summary.py)

    @classmethod
    def from_env(cls) -> Settings:
        config = os.environ.get("LAMBDAROUTER_CONFIG")
        return cls(
            db_path=Path(os.environ.get("LAMBDAROUTER_DB") or default_db_path()),
            config_path=Path(config) if config else None,
            admin_key=os.environ.get("LAMBDAROUTER_ADMIN_KEY") or None,
            connect_timeout=float(os.environ.get("LAMBDAROUTER_CONNECT_TIMEOUT", "10")),
            read_timeout=float(os.environ.get("LAMBDAROUTER_READ_TIMEOUT", "300")),
            request_deadline=float(os.environ.get("LAMBDAROUTER_REQUEST_DEADLINE", "120")),
            retry_rounds=max(int(os.environ.get("LAMBDAROUTER_RETRY_ROUNDS", "3")), 1),
            stream_limit=float(os.environ.get("LAMBDAROUTER_STREAM_LIMIT", "900")),
            keys_table=os.environ.get("LAMBDAROUTER_KEYS_TABLE") or None,
            usage_table=os.environ.get("LAMBDAROUTER_USAGE_TABLE") or None,
            idempotency_table=os.environ.get("LAMBDAROUTER_IDEMPOTENCY_TABLE") or None,
            summary_table=os.environ.get("LAMBDAROUTER_SUMMARY_TABLE") or None,
        )
