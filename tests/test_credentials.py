"""Provider keys from one JSON secret (moto Secrets Manager): cached, rotated, and a clear 503 when broken."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from lambdarouter.core.credentials import EnvCredentials, SecretCredentials, credentials_from_env, secrets_provider
from lambdarouter.core.errors import GatewayError

SECRET = "lambdarouter/providers"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        secrets_provider.cache_clear()  # the process's provider, and with it its cached values
        client = boto3.client("secretsmanager", region_name="us-east-1")
        yield client
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        secrets_provider.cache_clear()


def test_fields_come_from_the_secret_and_the_rest_from_env(secrets: object, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=SECRET, SecretString=json.dumps({"OPENAI_API_KEY": "sk-from-secret"}))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://bedrock.local")
    creds = SecretCredentials(SECRET)
    assert creds.get("OPENAI_API_KEY") == "sk-from-secret"
    assert creds.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME") == "http://bedrock.local"
    assert creds.get("ANTHROPIC_API_KEY") is None


def test_rotation_is_seen_after_the_ttl(secrets: object) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=SECRET, SecretString=json.dumps({"OPENAI_API_KEY": "old"}))
    creds = SecretCredentials(SECRET, max_age=3)  # room for two calls on a busy machine
    assert creds.get("OPENAI_API_KEY") == "old"
    client.put_secret_value(SecretId=SECRET, SecretString=json.dumps({"OPENAI_API_KEY": "new"}))
    assert creds.get("OPENAI_API_KEY") == "old"  # within the TTL: served from the cache
    time.sleep(3.1)
    assert creds.get("OPENAI_API_KEY") == "new"  # past it: the rotated value


@pytest.mark.parametrize(("secret_string", "why"), [("not json", "not a JSON object"), ("[1, 2]", "not a JSON object"),
                                                    (None, "cannot be read")])
def test_missing_or_malformed_secret_is_a_clear_503(secrets: object, secret_string: str | None, why: str) -> None:
    if secret_string is not None:
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name=SECRET, SecretString=secret_string)
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
