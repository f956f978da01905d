"""One Settings object carries the configuration: core/config.py is the only module that reads it from the
environment (provider keys are credentials, read by core/credentials.py by the names the hosts give)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdarouter.core import config
from lambdarouter.core.config import NAMES, Settings

SRC = Path(__file__).resolve().parents[1] / "src" / "lambdarouter"
# Where the environment may still be touched: the settings; credentials looked up by name (a host's key);
# the X-Ray trace header the tracer reads from the environment (a write, not configuration).
ALLOWED = {"core/config.py": "settings", "core/credentials.py": "credentials by name",
           "http/observability.py": "_X_AMZN_TRACE_ID",
           # The AWS SDKs' own variables, read as boto3 reads them: credentials at each call (they rotate),
           # the endpoint and region overrides when the client is built.
           "aws/credentials.py": "AWS credentials", "aws/client.py": "AWS endpoints and region"}


class Recording(dict[str, str]):
    """A mapping that remembers every name asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_every_variable_the_settings_read_is_listed() -> None:
    asked: set[str] = set()
    for values in ({}, {"LAMBDA_TASK_ROOT": "/var/task"}):  # some are read only inside Lambda
        environ = Recording()
        environ.update(values)
        Settings.from_env(environ)
        asked |= environ.asked
    assert asked == set(NAMES)


def test_values_are_parsed_once_into_one_object() -> None:
    settings = Settings.from_env({"LAMBDAROUTER_IMAGE_FETCH_ALLOW": " 127.0.0.1:80, ,h:1,",
                                  "LAMBDAROUTER_CORS_ORIGINS": "https://b, https://a", "LOG_LEVEL": "debug",
                                  "AWS_DEFAULT_REGION": "eu-west-1", "LAMBDA_TASK_ROOT": "/var/task",
                                  "LAMBDAROUTER_RETRY_ROUNDS": "0"})
    assert settings.image_fetch_allow == {"127.0.0.1:80", "h:1"}
    assert settings.cors_origins == ("https://b", "https://a")  # in order
    assert (settings.log_level, settings.aws_region, settings.tracing, settings.retry_rounds) == (
        "DEBUG", "eu-west-1", True, 1)
    assert Settings.from_env({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}).tracing is False


def test_current_follows_a_changed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMBDAROUTER_KEEPALIVE_SECONDS", "7")
    first = config.current()
    assert first.keepalive_seconds == 7 and config.current() is first  # parsed once while nothing changes
    monkeypatch.setenv("LAMBDAROUTER_KEEPALIVE_SECONDS", "9")
    assert config.current().keepalive_seconds == 9


def _reads() -> Iterator[tuple[str, int, str]]:
    for path in SRC.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"os\.environ|os\.getenv|getenv\(", line):
                yield path.relative_to(SRC).as_posix(), number, line.strip()


def test_no_module_reads_the_environment_on_its_own() -> None:
    reads = [f"{where}:{number}: {line}" for where, number, line in _reads()
             if where not in ALLOWED or (where == "http/observability.py" and "_X_AMZN_TRACE_ID" not in line)]
    assert not reads, reads


def test_every_table_is_named_by_the_settings() -> None:
    """store/tables.py reads each table's name from the Settings: one field per table, none forgotten."""
    from lambdarouter.store.tables import TABLES, table_names

    environ = {table.env_var: f"custom-{table.logical_id}" for table in TABLES}
    assert table_names(environ) == {table.logical_id: f"custom-{table.logical_id}" for table in TABLES}
