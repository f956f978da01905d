"""The process's one boto3 session, for the AWS clients that are botocore's: S3 (image URLs), the idempotency
table (Powertools' persistence layer), `lambdarouter store init`. DynamoDB's request-path calls and Secrets
Manager's GetSecretValue do not use it (lambdarouter/aws: no boto3 import on a cold start).

`boto3.client()` without a session goes through boto3's default session, and each session has its own loader,
which lists botocore's data directory and reads the endpoint rules and partitions again, and resolves credentials
again: tens of milliseconds per extra session. One session made on first use (never at import: a route that
calls no botocore API never imports boto3) serves every such client, and the callers keep their clients.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def aws_session() -> Any:
    import boto3

    return boto3.session.Session()
