"""`lambdarouter store backfill`: ledger rows written before the usage aggregates and the `by_month` index
existed, counted and indexed once.

Such a row has no `log_month`. Each is given one in a transaction with the ADDs of its hour and day
aggregates, on the condition that it still has none: the attribute is the mark "counted", so a row is
counted exactly once whether the command is interrupted, run twice or run while the gateway settles new
rows (those carry `log_month` from the start). A maintenance command, not a route: it scans the ledger once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from lambdarouter.store.codec import decode_generation
from lambdarouter.store.dynamodb_ledger import MAX_TRIES, Tables, log_month, transact
from lambdarouter.store.dynamodb_summary import summary_update
from lambdarouter.store.errors import StoreUnavailable
from lambdarouter.store.model import GenerationRecord
from lambdarouter.store.summary import summarize


def _uncounted(client: Any, table: str) -> Iterator[dict[str, Any]]:
    pages = client.get_paginator("scan").paginate(
        TableName=table, FilterExpression="attribute_exists(key_hash) AND attribute_not_exists(log_month)",
        ProjectionExpression="id, #r", ExpressionAttributeNames={"#r": "record"})
    for page in pages:
        yield from page["Items"]


def _count(client: Any, tables: Tables, record: GenerationRecord) -> bool:
    """Index and count one row; False when it was counted meanwhile."""
    mark = {"Update": {"TableName": tables.usage, "Key": {"id": {"S": record.id}},
                       "UpdateExpression": "SET log_month = :m",
                       "ConditionExpression": "attribute_not_exists(log_month)",
                       "ExpressionAttributeValues": {":m": {"S": log_month(record)}}}}
    counts = [summary_update(tables.summary, identity, counters)
              for identity, counters in summarize([record]).items()]
    for _ in range(MAX_TRIES):
        reasons = transact(client, [mark, *counts])
        if reasons is None:
            return True
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            return False
        time.sleep(0.02)  # a settle's transaction on the same aggregate: try again
    raise StoreUnavailable(f"could not count {record.id}: its aggregates kept changing")


def backfill(client: Any, tables: Tables) -> int:
    """Count and index every ledger row that lacks `log_month`; how many were."""
    counted = 0
    for item in _uncounted(client, tables.usage):
        if "record" in item:
            counted += _count(client, tables, decode_generation(item["record"]["S"]))
    return counted
