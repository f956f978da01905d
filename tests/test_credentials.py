"""Provider keys from one JSON secret (moto's Secrets Manager in server mode, read by the gateway's own client):
cached, rotated, and a clear 503 when broken."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lambdarouter.core.credentials import EnvCredentials, SecretCredentials, credentials_from_env
from lambdarouter.core.errors import GatewayError
from tests.store_fixtures import boto3_client

SECRET = "lambdarouter/providers"


@pytest.fixture
def secrets(moto_aws: str) -> Any:
    """A boto3 client at a fresh moto (`moto_aws` also drops the process's client and the secrets it read)."""
    return boto3_client("secretsmanager", moto_aws)


def test_fields_come_from_the_secret_and_the_rest_from_env(secrets: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets.create_secret(Name=SECRET, SecretString=json.dumps({"OPENAI_API_KEY": "sk-from-secret"}))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://bedrock.local")
    creds = SecretCredentials(SECRET)
    assert creds.get("OPENAI_API_KEY") == "sk-from-secret"
    assert creds.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") == "http://bedrock.local"
    assert creds.get("ANTHROPIC_API_KEY") is None


def test_rotation_is_seen_after_the_ttl(secrets: Any) -> None:
    secrets.create_secret(Name=SECRET, SecretString=json.dumps({"OPENAI_API_KEY": "old"}))
    creds = SecretCredentials(SECRET, max_age=3)  # room for two calls on a busy machine
    assert creds.get("OPENAI_API_KEY") == "old"
    secrets.put_secret_value(SecretId=SECRET, SecretString=json.dumps({"OPENAI_API_KEY": "new"}))
    assert creds.get("OPENAI_API_KEY") == "old"  # within the TTL: served from the cache
    time.sleep(3.1)
    assert creds.get("OPENAI_API_KEY") == "new"  # past it: the rotated value


@pytest.mark.parametrize(("secret_string", "why"), [("not json", "not a JSON object"), ("[1, 2]", "not a JSON object"),
                                                    (None, "cannot be read")])
def test_missing_or_malformed_secret_is_a_clear_503(secrets: Any, secret_string: str | None, why: str) -> None:
    if secret_string is not None:
        secrets.create_secret(Name=SECRET, SecretString=secret_string)
    with pytest.raises(GatewayError) as raised:
        SecretCredentials(SECRET).get("OPENAI_API_KEY")
    assert raised.value.status == 503
    assert why in raised.value.message
    assert SECRET in raised.value.message


def test_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDAROUTER_SECRET_ID", raising=False)
    assert isinstance(credentials_from_env(), EnvCredentials)
    monkeypatch.setenv("LAMBDAROUTER_SECRET_ID", SECRET)
    monkeypatch.setenv("LAMBDAROUTER_SECRET_TTL", "60")
    chosen = credentials_from_env()
    assert isinstance(chosen, SecretCredentials)
    assert chosen.max_age == 60
