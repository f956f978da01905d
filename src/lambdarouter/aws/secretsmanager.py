"""Secrets Manager's GetSecretValue over the JSON client (`application/x-amz-json-1.1`, target prefix
`secretsmanager`, signing name `secretsmanager`; Secrets Manager API reference, GetSecretValue), with
botocore's standard-mode default of 3 attempts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdarouter.aws.client import AwsError, JsonClient, endpoint_url, region_from_env
from lambdarouter.aws.sigv4 import Credentials


class SecretsManager:
    def __init__(self, json_client: JsonClient) -> None:
        self.json_client = json_client

    def get_secret_string(self, secret_id: str) -> str:
        """The secret's current SecretString; an `AwsError` when it cannot be read or is binary."""
        found = self.json_client.call("GetSecretValue", {"SecretId": secret_id})
        value = found.get("SecretString")
        if not isinstance(value, str):
            raise AwsError("GetSecretValue", "NoSecretString", 200, "the secret holds no SecretString")
        return value


def secretsmanager(region: str | None = None, endpoint: str | None = None,
                   credentials: Callable[[], Credentials] | None = None, **options: Any) -> SecretsManager:
    region = region or region_from_env()
    return SecretsManager(JsonClient(signing_name="secretsmanager", target_prefix="secretsmanager",
                                     json_version="1.1",
                                     endpoint=endpoint or endpoint_url("Secrets Manager", "secretsmanager", region),
                                     region=region, credentials=credentials, **options))
