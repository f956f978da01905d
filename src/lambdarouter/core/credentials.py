"""Provider credentials by the design's variable names.

Locally they come from the environment. On AWS (`LAMBDAROUTER_SECRET_ID` set) the same names are the
fields of one JSON secret in Secrets Manager, read through Powertools parameters with a TTL cache, so a
rotated provider key reaches warm functions within `LAMBDAROUTER_SECRET_TTL` seconds; names the secret
does not hold (region, endpoint overrides) still come from the environment. The management key has a secret
of its own on AWS (`LAMBDAROUTER_ADMIN_SECRET_ID`), which only the management function may read.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any, Protocol

from lambdarouter.core import config
from lambdarouter.core.errors import GatewayError, not_configured

logger = logging.getLogger(__name__)
DEFAULT_SECRET_TTL = 300


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
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        try:
            value = secrets_provider().get(self.secret_id, transform="json", max_age=self.max_age)
        except TransformParameterError:
            raise self._unavailable("is not a JSON object") from None
        except GetParameterError as exc:
            # The reason (not found, access denied, throttled) helps the operator; it holds no secret.
            logger.error("cannot read secret %s: %s", self.secret_id, type(exc.__cause__ or exc).__name__)
            raise self._unavailable("cannot be read") from None
        if not isinstance(value, dict):
            raise self._unavailable("is not a JSON object")
        return value

    def _unavailable(self, why: str) -> GatewayError:
        return not_configured(f"{self.unavailable}: the secret {self.secret_id} {why}.")


@cache
def secrets_provider() -> Any:
    """Powertools' Secrets Manager provider (its cache keeps each secret for the caller's `max_age`), on the
    process's one boto3 session. Built on first use: boto3 and Powertools cost ~80 ms of import, which local runs
    and the functions that read no secret never pay."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from lambdarouter.core.aws import aws_session

    return SecretsProvider(boto3_client=aws_session().client("secretsmanager"))


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
