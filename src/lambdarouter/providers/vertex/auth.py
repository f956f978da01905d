"""Google service-account credentials → OAuth 2.0 access tokens for Vertex AI.

The key is the JSON file Google issues for a service account (`type`, `project_id`, `private_key_id`,
`private_key`, `client_email`, `token_uri`), read like every provider key: a field of the secret on AWS, else
the environment (`VERTEX_SERVICE_ACCOUNT`). The gateway signs a JWT with it (RS256) and exchanges it at
`token_uri` for an access token (https://developers.google.com/identity/protocols/oauth2/service-account,
"Preparing to make an authorized API call" / HTTP/REST): `POST grant_type=urn:ietf:params:oauth:grant-type:
jwt-bearer&assertion=<JWT>` answers `{"access_token", "expires_in", "token_type": "Bearer"}`. A token is
reused by every request of the process until shortly before it expires (warm invocations too); the
exchange runs through the transport (`providers.base.Authorizer`), so adapters stay pure.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from msgspec import Struct

from lambdarouter.core.errors import GatewayError
from lambdarouter.providers.base import Authorizer, Fetch, HttpRequest

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
ASSERTION_LIFETIME = 3600  # seconds: the most Google accepts for `exp - iat`
REFRESH_MARGIN = 300  # a token is replaced this long before it expires


class ServiceAccount(Struct, frozen=True):
    client_email: str
    private_key: str  # PEM
    private_key_id: str | None
    token_uri: str
    project_id: str | None

    def __repr__(self) -> str:  # the key is a secret: never print it
        return f"ServiceAccount({self.client_email!r})"


_accounts: dict[str, ServiceAccount] = {}
_tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (client_email, token_uri) → (token, expiry, monotonic)


def service_account(raw: str, provider: str) -> ServiceAccount:
    """The key's fields, parsed once per process; a 503 naming what is wrong (never the key) if unusable."""
    account = _accounts.get(raw)
    if account is None:
        try:
            data = json.loads(raw)
        except ValueError:
            raise _unusable(provider, "is not JSON (the service account key file's content)") from None
        if not isinstance(data, dict):
            raise _unusable(provider, "is not a JSON object")
        email, key = _text(data.get("client_email")), _text(data.get("private_key"))
        if email is None or key is None:
            raise _unusable(provider, "has no client_email and private_key")
        account = _accounts[raw] = ServiceAccount(email, key, _text(data.get("private_key_id")),
                                                  _text(data.get("token_uri")) or DEFAULT_TOKEN_URI,
                                                  _text(data.get("project_id")))
    return account


def authorizer(account: ServiceAccount, provider: str) -> Authorizer:
    """`authorization: Bearer <access token>`, exchanged for this account when none is cached or it expires."""
    async def authorize(fetch: Fetch) -> Mapping[str, str]:
        key = (account.client_email, account.token_uri)
        cached = _tokens.get(key)
        if cached is None or cached[1] <= time.monotonic():
            cached = _tokens[key] = await _exchange(account, fetch, provider)
        return {"authorization": f"Bearer {cached[0]}"}
    return authorize


async def _exchange(account: ServiceAccount, fetch: Fetch, provider: str) -> tuple[str, float]:
    form = urlencode({"grant_type": GRANT_TYPE, "assertion": assertion(account, int(time.time()))}).encode()
    request = HttpRequest("POST", account.token_uri, {"content-type": "application/x-www-form-urlencoded",
                                                      "accept": "application/json"}, form)
    status, body = await fetch(request)
    try:
        answer: Any = json.loads(body)
    except ValueError:
        answer = None
    if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        # OAuth's error code ("invalid_grant"...) says why; its description may quote the assertion, so it is
        # left out. The gateway's own credentials: another host may serve the request (502, retryable).
        code = answer.get("error") if isinstance(answer, dict) and isinstance(answer.get("error"), str) else None
        raise GatewayError(502, f"{provider}: the token endpoint refused the service account "
                                f"({code or f'HTTP {status}'}).",
                           metadata={"provider_name": provider, "status": status},
                           retryable=True, transient=status >= 500)
    lifetime = answer.get("expires_in")
    seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else ASSERTION_LIFETIME
    return answer["access_token"], time.monotonic() + max(seconds - REFRESH_MARGIN, 0)


def assertion(account: ServiceAccount, now: int) -> str:
    """The signed JWT asking `token_uri` for a cloud-platform access token for `account`."""
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    claims = {"iss": account.client_email, "scope": SCOPE, "aud": account.token_uri, "iat": now,
              "exp": now + ASSERTION_LIFETIME}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}".encode()
    return f"{signing_input.decode()}.{_b64(_sign(account.private_key, signing_input))}"


def _sign(pem: str, message: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 with SHA-256 (JWS `RS256`, RFC 7518 §3.3). Imported here: only Vertex needs it."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise GatewayError(503, "The Vertex AI service account's private_key is not an RSA key in PEM form.",
                           retryable=True)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _unusable(provider: str, why: str) -> GatewayError:
    return GatewayError(503, f"Provider {provider} is not configured: its service account key {why}.",
                        metadata={"provider_name": provider}, retryable=True)
