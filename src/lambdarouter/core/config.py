"""All of the gateway's configuration, with the design's names (README, "Configuration"): the one place that reads
the environment. Provider keys are credentials, not settings (`core.credentials`: the secret on AWS, else the
environment, by the names the hosts give).

`Settings.from_env` parses a mapping into one immutable object; `current()` is the process's, parsed again
only when one of the variables it reads changed (so tests and a rotated value are seen), for the code that is
handed no `Settings` of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from msgspec import Struct

PACKAGE = "lambdarouter"
# Every variable `Settings.from_env` reads (tests/test_settings.py checks the list is complete).
NAMES = (
    "XDG_DATA_HOME", "LAMBDAROUTER_DB", "LAMBDAROUTER_CONFIG", "LAMBDAROUTER_ADMIN_KEY", "LAMBDAROUTER_CONNECT_TIMEOUT",
    "LAMBDAROUTER_READ_TIMEOUT", "LAMBDAROUTER_REQUEST_DEADLINE", "LAMBDAROUTER_RETRY_ROUNDS",
    "LAMBDAROUTER_STREAM_LIMIT", "LAMBDAROUTER_KEYS_TABLE", "LAMBDAROUTER_USAGE_TABLE",
    "LAMBDAROUTER_IDEMPOTENCY_TABLE", "LAMBDAROUTER_SUMMARY_TABLE", "LAMBDAROUTER_KEEPALIVE_SECONDS",
    "LAMBDAROUTER_HEADER_TIMEOUT", "LAMBDAROUTER_IMAGE_BUCKET",
    "LAMBDAROUTER_IMAGE_URL_TTL", "LAMBDAROUTER_IMAGE_FETCH_ALLOW", "LAMBDAROUTER_SECRET_ID",
    "LAMBDAROUTER_SECRET_TTL", "LAMBDAROUTER_ADMIN_SECRET_ID", "AWS_LWA_READINESS_CHECK_PATH",
    "LAMBDAROUTER_CORS_ORIGINS", "LAMBDAROUTER_LOG_PROMPTS", "AWS_REGION",
    "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT",
    "AWS_SAM_LOCAL", "LOG_LEVEL", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_TRACE_DISABLED",
)
DEFAULT_SECRET_TTL = 300


class Settings(Struct, frozen=True):
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
    dynamodb_endpoint: str | None = None  # AWS_ENDPOINT_URL_DYNAMODB (the client reads it itself; shown in logs)
    aws_region: str | None = None  # AWS_REGION (what Lambda sets), else AWS_DEFAULT_REGION
    # Provider keys from one Secrets Manager secret (on AWS), cached this many seconds.
    secret_id: str | None = None
    secret_ttl: int = DEFAULT_SECRET_TTL
    admin_secret_id: str | None = None  # the management key's own secret (else it is read with the provider keys)
    keepalive_seconds: float = 15.0  # `: keep-alive` comments on a silent stream
    header_timeout: str = ""  # as given: `serve --header-timeout` checks it (admin/cli.py)
    image_bucket: str | None = None  # generated images as presigned S3 URLs, else data: URLs
    image_url_ttl: str = ""  # as given: gateway/image_store.py checks its range
    image_fetch_allow: frozenset[str] = frozenset()  # host:port fetched despite a private address
    # Observability (http/observability.py).
    cors_origins: tuple[str, ...] = ()
    log_prompts: bool = False
    log_level: str = "INFO"
    service_name: str = PACKAGE
    metrics_namespace: str = PACKAGE
    on_lambda: bool = False  # inside a Lambda function (AWS_LAMBDA_FUNCTION_NAME)
    tracing: bool = False  # X-Ray: inside Lambda (not `sam local`), unless switched off
    readiness_check_path: str | None = None  # the Lambda Web Adapter's readiness probe (not an invocation)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        config = env.get("LAMBDAROUTER_CONFIG")
        return cls(
            db_path=Path(env.get("LAMBDAROUTER_DB") or default_db_path(env)),
            config_path=Path(config) if config else None,
            admin_key=env.get("LAMBDAROUTER_ADMIN_KEY") or None,
            connect_timeout=float(env.get("LAMBDAROUTER_CONNECT_TIMEOUT", "10")),
            read_timeout=float(env.get("LAMBDAROUTER_READ_TIMEOUT", "300")),
            request_deadline=float(env.get("LAMBDAROUTER_REQUEST_DEADLINE", "120")),
            retry_rounds=max(int(env.get("LAMBDAROUTER_RETRY_ROUNDS", "3")), 1),
            stream_limit=float(env.get("LAMBDAROUTER_STREAM_LIMIT", "900")),
            keys_table=env.get("LAMBDAROUTER_KEYS_TABLE") or None,
            usage_table=env.get("LAMBDAROUTER_USAGE_TABLE") or None,
            idempotency_table=env.get("LAMBDAROUTER_IDEMPOTENCY_TABLE") or None,
            summary_table=env.get("LAMBDAROUTER_SUMMARY_TABLE") or None,
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            secret_id=env.get("LAMBDAROUTER_SECRET_ID") or None,
            secret_ttl=int(env.get("LAMBDAROUTER_SECRET_TTL") or DEFAULT_SECRET_TTL),
            admin_secret_id=env.get("LAMBDAROUTER_ADMIN_SECRET_ID") or None,
            keepalive_seconds=float(env.get("LAMBDAROUTER_KEEPALIVE_SECONDS", "15")),
            header_timeout=env.get("LAMBDAROUTER_HEADER_TIMEOUT", ""),
            image_bucket=env.get("LAMBDAROUTER_IMAGE_BUCKET") or None,
            image_url_ttl=env.get("LAMBDAROUTER_IMAGE_URL_TTL", ""),
            image_fetch_allow=frozenset(_listed(env.get("LAMBDAROUTER_IMAGE_FETCH_ALLOW", ""))),
            cors_origins=_listed(env.get("LAMBDAROUTER_CORS_ORIGINS", "")),
            log_prompts=env.get("LAMBDAROUTER_LOG_PROMPTS") == "1",
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            service_name=env.get("POWERTOOLS_SERVICE_NAME") or PACKAGE,
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or PACKAGE,
            on_lambda=bool(env.get("AWS_LAMBDA_FUNCTION_NAME")),
            tracing=(bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL")
                     and env.get("POWERTOOLS_TRACE_DISABLED", "").lower() not in ("1", "true")),
            readiness_check_path=env.get("AWS_LWA_READINESS_CHECK_PATH") or None,
        )


def _listed(raw: str) -> tuple[str, ...]:
    """A comma-separated list, in order, blanks dropped."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "lambdarouter" / "db.sqlite3"


_current: tuple[tuple[str | None, ...], Settings] | None = None


def current() -> Settings:
    """The process's settings, parsed again only when a variable they read changed."""
    global _current
    values = tuple(map(os.environ.get, NAMES))
    if _current is None or _current[0] != values:
        _current = (values, Settings.from_env())
    return _current[1]
