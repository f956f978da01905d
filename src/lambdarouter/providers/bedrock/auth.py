"""Where Bedrock requests go and how they are signed: AWS SigV4 with the standard credential chain.

Why not boto3's `bedrock-runtime` client: its `converse` / `converse_stream` methods are synchronous
(they would block the event loop for the whole answer) and send through urllib3, outside the gateway's
one pooled async httpx client (`transport.py`, the only place that sends HTTP). So the adapter builds
the Converse HTTP request itself and borrows only two pieces of botocore: the credential chain
(environment, shared config / SSO, container and instance roles) and the SigV4 signer. The signature
covers the exact method, encoded path, signed headers and body bytes that httpx then sends.

Signing reads the clock and the cached credentials, so `build_request` is pure apart from those two
reads: given the same credentials and time it produces the same bytes (tests verify the signature by
recomputing it with botocore from what the fake upstream received).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.session import Session
from botocore.utils import percent_encode

from lambdarouter.core import config
from lambdarouter.core.errors import GatewayError, not_configured

# The bedrock-runtime service model's `signingName`: requests are signed for "bedrock", not for the
# endpoint prefix "bedrock-runtime" (botocore/data/bedrock-runtime/*/service-2.json, metadata).
SIGNING_NAME = "bedrock"
# A failed lookup of the chain (no credentials anywhere) is remembered this long, so a gateway without
# AWS credentials does not walk the chain (instance-metadata timeouts included) on every request.
NEGATIVE_CACHE_SECONDS = 60.0


class CredentialChain(Protocol):
    def credentials(self) -> ReadOnlyCredentials | None: ...

    def region(self) -> str | None: ...


class AwsChain:
    """Credentials and region from botocore's default chain, resolved on first use, once per process.

    Resolution can block (shared-config files, SSO cache, container or instance metadata endpoints), so it
    happens lazily on the first Bedrock request, never at import. Refreshable credentials (roles, SSO)
    refresh themselves when `get_frozen_credentials()` sees them near expiry, as botocore's clients do.
    """

    def __init__(self, session_factory: Callable[[], Session] = Session) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None
        self._credentials: Any = None
        self._missing_since: float | None = None

    def _botocore_session(self) -> Session:
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def credentials(self) -> ReadOnlyCredentials | None:
        if self._credentials is None:
            if self._missing_since is not None and time.monotonic() - self._missing_since < NEGATIVE_CACHE_SECONDS:
                return None
            try:
                self._credentials = self._botocore_session().get_credentials()
            except Exception:  # a broken profile or SSO cache: treated like no credentials, never a 500
                self._credentials = None
            if self._credentials is None:
                self._missing_since = time.monotonic()
                return None
        frozen: ReadOnlyCredentials = self._credentials.get_frozen_credentials()
        return frozen

    def region(self) -> str | None:
        # AWS_REGION is what Lambda sets; botocore itself only reads AWS_DEFAULT_REGION and the profile.
        configured = config.current().aws_region
        if configured:
            return configured
        try:
            configured = self._botocore_session().get_config_variable("region")
        except Exception:
            return None
        return str(configured) if configured else None


# The process's chain, at module scope like the gateway's other clients: warm invocations reuse it.
DEFAULT_CHAIN = AwsChain()


class Signer:
    """Signs one Converse request; the credential source is injectable so tests can pin it."""

    def __init__(self, chain: CredentialChain | None = None) -> None:
        self.chain = chain or DEFAULT_CHAIN

    def region(self) -> str:
        region = self.chain.region()
        if not region:
            raise _not_configured("set AWS_REGION (or AWS_DEFAULT_REGION)")
        return region

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes, region: str) -> dict[str, str]:
        """The headers to send: the given ones plus X-Amz-Date, X-Amz-Security-Token and Authorization.

        `host` is not added: botocore signs the URL's host (without a default port), which is the Host
        header httpx derives from the same URL.
        """
        try:
            credentials = self.chain.credentials()
        except Exception as exc:  # a refreshable credential whose refresh failed
            raise _not_configured(f"the AWS credentials could not be refreshed ({type(exc).__name__})") from None
        if credentials is None:
            raise _not_configured(
                "no AWS credentials were found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
                "or run with an IAM role)")
        request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
        SigV4Auth(credentials, SIGNING_NAME, region).add_auth(request)
        return {name: str(value) for name, value in request.headers.items()}


def endpoint_url(base_url: str, region: str, model_id: str, stream: bool) -> str:
    """`POST /model/{modelId}/converse[-stream]`: Converse's URL (see `model_url`)."""
    return model_url(base_url, region, model_id, "converse-stream" if stream else "converse")


def model_url(base_url: str, region: str, model_id: str, operation: str) -> str:
    """`POST /model/{modelId}/{operation}` on the host's base URL or the regional endpoint.

    The model id is encoded with botocore's own `percent_encode`, as its rest-json serializer encodes a
    URI label: `us.anthropic.claude-sonnet-4-5-20250929-v1:0` travels as `...-v1%3A0` and an
    inference-profile ARN's `/` as `%2F`, exactly as the recordings' `url` fields show. SigV4 then
    encodes that path once more for its canonical request, as botocore does for every service but S3.
    The base URL is `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` when set (hosts.resolve_host), else
    `https://bedrock-runtime.{region}.amazonaws.com`
    (https://docs.aws.amazon.com/general/latest/gr/bedrock.html#bedrock_region).
    """
    base = base_url.rstrip("/") or f"https://bedrock-runtime.{region}.amazonaws.com"
    return f"{base}/model/{percent_encode(model_id)}/{operation}"


def _not_configured(what: str) -> GatewayError:
    # Retryable: another host of the same model (e.g. Anthropic's own API) may still serve the request.
    return not_configured(f"Provider amazon-bedrock is not configured: {what}.", retryable=True,
                          provider_name="amazon-bedrock")
