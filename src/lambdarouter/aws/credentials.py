"""Where a function's AWS credentials come from, in the order botocore's default chain tries the same places.

1. The environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, which Lambda sets for the
   execution role (Lambda developer guide, "Defined runtime environment variables"). Read at each call: cheap,
   and a changed environment (tests) is seen at once.
2. The container credentials endpoint: AWS_CONTAINER_CREDENTIALS_FULL_URI (or ECS's
   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under 169.254.170.2) with AWS_CONTAINER_AUTHORIZATION_TOKEN or the
   file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as its Authorization header. Lambda SnapStart serves the
   role's credentials this way (a restored snapshot must not reuse the ones it was taken with), as ECS does.
   The answer is `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (SDK reference guide, "Container
   credential provider"); it is kept until ten minutes before it expires (botocore's mandatory refresh window),
   then fetched again.
3. Anything else (a profile, SSO, the instance metadata service: a developer's machine running `store init`
   against a real account): botocore's own chain, imported only then.

Credentials never appear in a log line or an error: `Credentials.__repr__` shows four characters of the key id.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from lambdarouter.aws.sigv4 import Credentials

REFRESH_BEFORE = 600.0  # seconds before expiry a cached credential is fetched again
ECS_HOST = "http://169.254.170.2"


class CredentialsUnavailable(Exception):
    """No credentials could be found or fetched (the reason, never a credential)."""


def from_environment() -> Credentials | None:
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


def container_url() -> str | None:
    if full := os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return full
    if relative := os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        return ECS_HOST + relative
    return None


def _authorization_token() -> str | None:
    if path := os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
        with open(path, encoding="utf-8") as file:  # read at each fetch: the agent may rotate it
            return file.read().strip()
    return os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") or None


def fetch_container(url: str, timeout: float = 2.0) -> tuple[Credentials, float]:
    """The credentials the container endpoint serves and when they expire (epoch seconds)."""
    parts = urlsplit(url)
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname or "", parts.port, timeout=timeout)
    headers = {"Accept": "application/json"}
    if token := _authorization_token():
        headers["Authorization"] = token
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        response = connection.getresponse()
        body = response.read()
    except OSError as exc:
        raise CredentialsUnavailable(f"container credentials endpoint unreachable: {type(exc).__name__}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise CredentialsUnavailable(f"container credentials endpoint answered {response.status}")
    try:
        found = json.loads(body)
        credentials = Credentials(found["AccessKeyId"], found["SecretAccessKey"], found.get("Token") or None)
        expires = datetime.fromisoformat(found["Expiration"].replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CredentialsUnavailable("container credentials endpoint answered no credentials") from None
    return credentials, expires


def from_botocore() -> Credentials | None:
    """botocore's whole chain (profiles, SSO, IMDS): for machines that are not a Lambda function."""
    import botocore.session

    found = botocore.session.get_session().get_credentials()
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)


class CredentialChain:
    """The process's credentials, cached where they expire; safe to call from many threads."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._expires = 0.0

    def get(self) -> Credentials:
        if (found := from_environment()) is not None:
            return found
        if self._cached is not None and self._clock() < self._expires - REFRESH_BEFORE:
            return self._cached
        with self._lock:
            if self._cached is None or self._clock() >= self._expires - REFRESH_BEFORE:
                self._cached, self._expires = self._resolve()
            return self._cached

    def _resolve(self) -> tuple[Credentials, float]:
        if (url := container_url()) is not None:
            return fetch_container(url)
        if (found := from_botocore()) is not None:
            return found, self._clock() + REFRESH_BEFORE + 300  # botocore refreshes its own: ask it again soon
        raise CredentialsUnavailable("no AWS credentials: none in the environment, no container endpoint")
