"""DynamoDB's low-level API over the JSON client: the operations the store calls, by botocore's method names.

Each method takes the operation's request members as keyword arguments and returns its response members,
exactly as botocore's `dynamodb` client does (DynamoDB API reference: GetItem, PutItem, UpdateItem,
DeleteItem, Query, Scan, TransactWriteItems), so the store's calls keep their shape. Target prefix
`DynamoDB_20120810`, content type `application/x-amz-json-1.0`, signing name `dynamodb`.

Retries: botocore's standard mode as the store configured it before (5 attempts), transient failures backing
off from 25 ms (botocore's DynamoDB scale), and DynamoDB's `x-amz-crc32` checked: a damaged answer is retried
("DynamoDB low-level API", "CRC32 checksums").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lambdarouter.aws.client import JsonClient, endpoint_url, region_from_env
from lambdarouter.aws.sigv4 import Credentials

MAX_ATTEMPTS = 5
Call = Callable[[str, dict[str, Any]], dict[str, Any]]


class Paginator:
    """`get_paginator("query" | "scan").paginate(...)`: pages until no LastEvaluatedKey, botocore's
    `PaginationConfig={"PageSize": n}` sent as `Limit`."""

    def __init__(self, call: Call, operation: str) -> None:
        self._call, self._operation = call, operation

    def paginate(self, **params: Any) -> Iterator[dict[str, Any]]:
        config = params.pop("PaginationConfig", None) or {}
        if "PageSize" in config:
            params["Limit"] = config["PageSize"]
        while True:
            page = self._call(self._operation, params)
            yield page
            if not page.get("LastEvaluatedKey"):
                return
            params = {**params, "ExclusiveStartKey": page["LastEvaluatedKey"]}


class DynamoDB:
    PAGINATED = {"query": "Query", "scan": "Scan"}

    def __init__(self, json_client: JsonClient) -> None:
        self.json_client = json_client

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.json_client.call(operation, params)

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("GetItem", params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self.call("PutItem", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self.call("UpdateItem", params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self.call("DeleteItem", params)

    def query(self, **params: Any) -> dict[str, Any]:
        return self.call("Query", params)

    def scan(self, **params: Any) -> dict[str, Any]:
        return self.call("Scan", params)

    def transact_write_items(self, **params: Any) -> dict[str, Any]:
        return self.call("TransactWriteItems", params)

    def get_paginator(self, name: str) -> Paginator:
        return Paginator(self.call, self.PAGINATED[name])


def dynamodb(region: str | None = None, endpoint: str | None = None,
             credentials: Callable[[], Credentials] | None = None, **options: Any) -> DynamoDB:
    region = region or region_from_env()
    return DynamoDB(JsonClient(signing_name="dynamodb", target_prefix="DynamoDB_20120810", json_version="1.0",
                               endpoint=endpoint or endpoint_url("DynamoDB", "dynamodb", region), region=region,
                               credentials=credentials, max_attempts=MAX_ATTEMPTS, transient_base=0.025,
                               check_crc32=True, **options))
