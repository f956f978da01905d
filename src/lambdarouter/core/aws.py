"""The process's one boto3 session: every AWS client of a function (DynamoDB, Secrets Manager, S3) comes from it.

`boto3.client()` without a session goes through boto3's default session, and Powertools' parameters build a
session of their own: each session has its own loader, which lists botocore's data directory and reads the
endpoint rules and partitions again, and resolves credentials again. On a cold start that is tens of
milliseconds per extra session. One session made on first use (never at import: a route that calls no AWS API
never imports boto3) serves every client, and the callers keep their clients for warm invocations.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def aws_session() -> Any:
    import boto3

    return boto3.session.Session()
