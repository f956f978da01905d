"""Provider credentials by the design's variable names.

Locally they come from the environment. On AWS (`LAMBDAROUTER_SECRET_ID` set) the same names are the
fields of one JSON secret in Secrets Manager, read with GetSecretValue (lambdarouter/aws) and cached per
secret for the process, so a rotated provider key reaches warm functions within `LAMBDAROUTER_SECRET_TTL`
seconds; names the secret does not hold (region, endpoint overrides) still come from the environment. The
management key has a secret of its own on AWS (`LAMBDAROUTER_ADMIN_SECRET_ID`), which only the management
function may read.
"""

from __future__ import annotations

import json
import logging
import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from lambdarouter.core import config
from lambdarouter.core.errors import GatewayError, not_configured

if TYPE_CHECKING:
    from lambdarouter.aws.secretsmanager import SecretsManager

logger = logging.getLogger(__name__)
DEFAULT_SECRET_TTL = 300
# secret id → (when it was read, its fields): one read per secret per TTL, whichever reader asks.
_read: dict[str, tuple[float, dict[str, Any]]] = {}


class Credentials(Protocol):
    def get(self, name: str) -> str | None: ...


class EnvCredentials:
    """Reads variables at call time so a changed environment (tests, rotation) is seen at once."""

    def get(self, name: str) -> str | None:
        return os.environ.get(name) or None


class SecretCredentials:
    """Fields of one JSON secret, cached for `max_age` seconds; the environment for the rest."""

    def __init__(self, secret_id: str, max_age: int = DEFAULT_SECRET_TTL,
                 unavailable: str = "Provider credentials are unavailable") -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self.unavailable = unavailable  # how a 503 begins

    def get(self, name: str) -> str | None:
        value = self.fields().get(name)
        if isinstance(value, str) and value:
            return value
        return os.environ.get(name) or None

    def fields(self) -> dict[str, Any]:
        cached = _read.get(self.secret_id)
        if cached is not None and time.monotonic() - cached[0] < self.max_age:
            return cached[1]
        from lambdarouter.aws.client import AwsError

        try:
            text = secrets_client().get_secret_string(self.secret_id)
        except AwsError as exc:
            # The reason (not found, access denied, throttled) helps the operator; it holds no secret.
            logger.error("cannot read secret %s: %s", self.secret_id, exc.code)
            raise self._unavailable("cannot be read") from None
        try:
            value = json.loads(text)
        except ValueError:
            raise self._unavailable("is not a JSON object") from None
        if not isinstance(value, dict):
            raise self._unavailable("is not a JSON object")
        _read[self.secret_id] = (time.monotonic(), value)
        return value

    def _unavailable(self, why: str) -> GatewayError:
        return not_configured(f"{self.unavailable}: the secret {self.secret_id} {why}.")


@cache
def secrets_client() -> SecretsManager:
    """The process's Secrets Manager client (AWS_ENDPOINT_URL_SECRETS_MANAGER honoured), built on first use: local
    runs and the functions that read no secret never import it."""
    from lambdarouter.aws.secretsmanager import secretsmanager

    return secretsmanager(region=config.current().aws_region)


def clear_secret_cache() -> None:
    """Forget every secret read and the client (tests; a process never needs to)."""
    _read.clear()
    secrets_client.cache_clear()


def credentials_from_env() -> Credentials:
    settings = config.current()
    if not settings.secret_id:
        return EnvCredentials()
    return SecretCredentials(settings.secret_id, settings.secret_ttl)


def admin_credentials_from_env() -> Credentials:
    """Where the management key is read: its own secret where one is named, else where provider keys are."""
    settings = config.current()
    if not settings.admin_secret_id:
        return credentials_from_env()
    return SecretCredentials(settings.admin_secret_id, settings.secret_ttl, "The management key is unavailable")
