"""An X-Ray subsegment per AWS call, as the X-Ray SDK's botocore patch records one: named by the service
(`dynamodb`, `secretsmanager`), namespace `aws`, with the operation and the table (AWS X-Ray developer guide,
"AWS SDK calls": `aws.operation`, `aws.table_name`). Never a request or answer member: only those names.

http/observability.py installs it as `lambdarouter.aws.client.span` when tracing is on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


@contextmanager
def xray_subsegment(service: str, operation: str, params: Mapping[str, Any]) -> Iterator[None]:
    from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]

    with xray_recorder.in_subsegment(service, namespace="aws") as subsegment:
        if subsegment is not None:
            described = {"operation": operation}
            if isinstance(params.get("TableName"), str):
                described["table_name"] = params["TableName"]
            subsegment.set_aws(described)
        yield
