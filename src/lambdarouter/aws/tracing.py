"""An X-Ray subsegment per AWS call, as the X-Ray SDK's botocore patch records one: named by the service
(`dynamodb`, `secretsmanager`), namespace `aws`, with the operation and the table (AWS X-Ray developer guide,
"AWS SDK calls": `aws.operation`, `aws.table_name`). Never a request or answer member: only those names, and for
a failed call its error code and the fault (5xx, no answer), error (4xx) or throttle flag, not its message.

http/observability.py installs it as `lambdarouter.aws.client.span` when tracing is on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lambdarouter.aws.client import THROTTLING_CODES, AwsError


@contextmanager
def xray_subsegment(service: str, operation: str, params: Mapping[str, Any]) -> Iterator[None]:
    from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]

    subsegment = xray_recorder.begin_subsegment(service, namespace="aws")  # None outside a traced request
    described = {"operation": operation}
    if isinstance(params.get("TableName"), str):
        described["table_name"] = params["TableName"]
    try:
        yield
    except AwsError as exc:
        if subsegment is not None:
            described["error_code"] = exc.code
            if exc.status == 429 or exc.code in THROTTLING_CODES:
                subsegment.add_throttle_flag()
            if exc.status >= 500 or exc.status == 0:
                subsegment.add_fault_flag()
            else:
                subsegment.add_error_flag()
        raise
    finally:
        if subsegment is not None:
            subsegment.set_aws(described)
            xray_recorder.end_subsegment()
