"""One AWS JSON-protocol client: a signed `POST /` per operation, retried as botocore's standard mode retries.

The JSON protocols (`awsJson1_0` for DynamoDB, `awsJson1_1` for Secrets Manager) name the operation in the
`X-Amz-Target` header (`<TargetPrefix>.<Operation>`) and carry its input members as a JSON object, the
output's as the answer's JSON object: the members botocore's clients take as keyword arguments and return, by
the same names. An error is a 4xx/5xx whose JSON body names the error in `__type`
(`com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`: the shape after the last `#`; a `:`
suffix, where a service adds one, is not part of it) with a `message` or `Message` and, for some errors,
members of their own (`Item` on a conditional check failure asked for `ALL_OLD`, `CancellationReasons` on a
cancelled transaction): `AwsError.body` keeps them all. (Smithy, "AWS JSON 1.0 protocol", operation errors.)

Retries follow botocore's standard mode (its documented behaviour: "Retries" in the boto3 guide, and
botocore/retries/standard.py's constants): throttling codes and HTTP 429 back off from 1 s, transient
failures (500/502/503/504, RequestTimeout, a connection or read failure, DynamoDB's CRC32 mismatch) from
25 ms for DynamoDB and 50 ms for other services, each delay `rand(0, 1) * min(base * 2**i, 20 s)`, at most
`max_attempts` tries in all. Standard mode's retry quota (a token bucket that stops retries when most calls
fail) is not kept: each call's attempts are bounded anyway.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import time
import zlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from lambdarouter.aws.credentials import CredentialChain, CredentialsUnavailable
from lambdarouter.aws.sigv4 import Credentials, authorization
from lambdarouter.aws.transport import Answer, Pool

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException"})
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
MAX_BACKOFF = 20.0
USER_AGENT = "lambdarouter-awsjson/1"

# Where each call's trace span opens: none by default; X-Ray's subsegment (aws/tracing.py) once
# http/observability.py has started tracing. (service, operation, request members) → a context manager.
Span = Callable[[str, str, Mapping[str, Any]], AbstractContextManager[Any]]
span: Span | None = None


class AwsError(Exception):
    """An AWS call that failed after its retries: the service's error code (`ConditionalCheckFailedException`),
    its HTTP status (0: no answer at all) and the error body's members. The text holds the operation, the
    code and the service's message: never a request member, never a credential."""

    def __init__(self, operation: str, code: str, status: int, message: str = "",
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{operation}: {code} ({status}) {message}".rstrip())
        self.operation, self.code, self.status, self.message = operation, code, status, message
        self.body: dict[str, Any] = body or {}


def error_code(type_name: str) -> str:
    return type_name.rpartition("#")[2].partition(":")[0]


def endpoint_url(service_id: str, endpoint_prefix: str, region: str) -> str:
    """The endpoint boto3 would use: AWS_ENDPOINT_URL_<SERVICE ID> (upper case, spaces as underscores), then
    AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (SDK reference guide, "Service-specific
    endpoints"); else the regional endpoint, `amazonaws.com.cn` in the China regions."""
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
        for name in (f"AWS_ENDPOINT_URL_{service_id.upper().replace(' ', '_')}", "AWS_ENDPOINT_URL"):
            if configured := os.environ.get(name):
                return configured
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{endpoint_prefix}.{region}.{suffix}"


def region_from_env() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class JsonClient:
    """Calls of one service at one endpoint; thread-safe, meant to live as long as the process."""

    def __init__(self, *, signing_name: str, target_prefix: str, json_version: str, endpoint: str, region: str,
                 credentials: Callable[[], Credentials] | None = None, max_attempts: int = 3,
                 transient_base: float = 0.05, check_crc32: bool = False,
                 sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random) -> None:
        self.signing_name, self.target_prefix, self.region = signing_name, target_prefix, region
        self.content_type = f"application/x-amz-json-{json_version}"
        self.pool = Pool(endpoint)
        self.credentials = credentials or CredentialChain().get
        self.max_attempts, self.transient_base, self.check_crc32 = max_attempts, transient_base, check_crc32
        self.sleep, self.jitter = sleep, jitter

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if span is None:
            return self._call(operation, params)
        with span(self.signing_name, operation, params):
            return self._call(operation, params)

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(params, separators=(",", ":")).encode()
        for attempt in range(self.max_attempts):
            last = attempt == self.max_attempts - 1
            try:
                answer = self.pool.post(payload, self._headers(operation, payload))
            except (OSError, http.client.HTTPException) as exc:
                if last:
                    raise AwsError(operation, type(exc).__name__, 0, "no answer from the endpoint") from None
                self.sleep(self._delay(attempt, self.transient_base))
                continue
            result = self._result(operation, answer)
            if isinstance(result, dict):
                return result
            base = 1.0 if result.code in THROTTLING_CODES or result.status == 429 else self.transient_base
            if last or not (base == 1.0 or result.code in TRANSIENT_CODES or result.status in TRANSIENT_STATUS):
                raise result
            self.sleep(self._delay(attempt, base))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _delay(self, attempt: int, base: float) -> float:
        return self.jitter() * min(base * 2.0 ** attempt, MAX_BACKOFF)

    def _headers(self, operation: str, payload: bytes) -> dict[str, str]:
        try:
            credentials = self.credentials()
        except CredentialsUnavailable as exc:
            raise AwsError(operation, "CredentialsUnavailable", 0, str(exc)) from None
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = {"Host": self.pool.netloc, "Content-Type": self.content_type, "X-Amz-Date": amz_date,
                   "X-Amz-Target": f"{self.target_prefix}.{operation}"}
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        headers["Authorization"] = authorization("POST", self.pool.path, "", headers, payload, credentials,
                                                 self.region, self.signing_name, amz_date)
        headers["User-Agent"] = USER_AGENT
        return headers

    def _result(self, operation: str, answer: Answer) -> dict[str, Any] | AwsError:
        """The output members, or the error to raise or retry."""
        expected_crc32 = answer.headers.get("x-amz-crc32") if self.check_crc32 else None
        if expected_crc32 is not None and zlib.crc32(answer.body) != int(expected_crc32):
            return AwsError(operation, "Crc32Mismatch", 500, "the answer was damaged in transit")
        try:
            body = json.loads(answer.body) if answer.body else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return AwsError(operation, "MalformedResponse", answer.status if answer.status >= 400 else 500)
        if answer.status < 300:
            return body
        code = error_code(str(body.get("__type") or answer.headers.get("x-amzn-errortype") or "")) or "Unknown"
        message = str(body.get("message") or body.get("Message") or "")
        return AwsError(operation, code, answer.status, message, body)
