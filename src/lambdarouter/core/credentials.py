"""Provider credentials by the design's variable names.

Locally they come from the environment. On AWS (`LAMBDAROUTER_SECRET_ID` set) the same names are the
fields of one JSON secret in Secrets Manager, read through Powertools parameters with a TTL cache, so a
rotated provider key reaches warm functions within `LAMBDAROUTER_SECRET_TTL` seconds; names the secret
does not hold (region, endpoint overrides) still come from the environment.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

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

    def __init__(self, secret_id: str, max_age: int = DEFAULT_SECRET_TTL) -> None:
        self.secret_id = secret_id
        self.max_age = max_age

    def get(self, name: str) -> str | None:
        value = self.fields().get(name)
        if isinstance(value, str) and value:
            return value
        return os.environ.get(name) or None

    def fields(self) -> dict[str, Any]:
        # Imported here: boto3 and Powertools parameters cost ~80 ms, and local runs never need them.
        from aws_lambda_powertools.utilities import parameters
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        try:
            value = parameters.get_secret(self.secret_id, transform="json", max_age=self.max_age)
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
        return not_configured(f"Provider credentials are unavailable: the secret {self.secret_id} {why}.")


def credentials_from_env() -> Credentials:
    secret_id = os.environ.get("LAMBDAROUTER_SECRET_ID")
    if not secret_id:
        return EnvCredentials()
    return SecretCredentials(secret_id, int(os.environ.get("LAMBDAROUTER_SECRET_TTL", DEFAULT_SECRET_TTL)))
