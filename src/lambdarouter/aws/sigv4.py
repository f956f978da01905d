"""AWS Signature Version 4 as a pure function: a request's headers in, its `Authorization` header out.

The steps are AWS's ("Create a signed AWS API request", IAM user guide): a canonical request (method, path,
query, the signed headers lower-cased and sorted, the payload's SHA-256), a string to sign
(`AWS4-HMAC-SHA256`, the time, the scope `<date>/<region>/<service>/aws4_request`, the canonical request's
hash), a signing key derived by HMAC-SHA256 from `AWS4<secret>` through date, region, service and
`aws4_request`, and the signature as lower-case hex. The JSON-protocol calls here are `POST /` with no query
string, but the function signs any path and query so that AWS's published test vectors can check it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never the secret, wherever a credential object ends up printed
        return f"Credentials(access_key={self.access_key[:4]}…)"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_query(query: str) -> str:
    """Parameters sorted by name then value, each name and value URI-encoded (RFC 3986 unreserved kept)."""
    if not query:
        return ""
    pairs = [(part.partition("=")[0], part.partition("=")[2]) for part in query.split("&") if part]
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


def authorization(method: str, path: str, query: str, headers: Mapping[str, str], payload: bytes,
                  credentials: Credentials, region: str, service: str, amz_date: str) -> str:
    """The `Authorization` header for a request whose `headers` (Host and X-Amz-Date among them, and
    X-Amz-Security-Token when the credentials have a token) are all signed.

    `amz_date` is the request time as `YYYYMMDD'T'HHMMSS'Z'`, the value of its X-Amz-Date header."""
    lowered = sorted((name.lower(), " ".join(str(value).split())) for name, value in headers.items())
    signed = ";".join(name for name, _ in lowered)
    canonical = "\n".join([
        method, quote(path or "/", safe="/-_.~"), canonical_query(query),
        "".join(f"{name}:{value}\n" for name, value in lowered), signed, hashlib.sha256(payload).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(credentials.secret_key, amz_date[:8], region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
