"""The DynamoDB ledger: settle as one transaction, one generation, and the request log's pages.

settle = one TransactWriteItems:
    PUT    ledger row                           IF attribute_not_exists(id)  (idempotent by generation id)
    UPDATE key SET remaining = remaining + :held - :cost, usage += :cost, period_usage += :cost
           REMOVE holds.<id>                    IF attribute_exists(holds.<id>)  (or, once swept, without it)
    ADD    the hour and day aggregates          (store/dynamodb_summary.py)
A retry after a lost answer finds the row and changes nothing: the charge and the aggregates are counted
once, with the row, or not at all.

The request log reads indexes newest first: `by_key` (key_hash, created_at) for one key's, `by_month`
(log_month = <YYYY-MM>#<shard>, created_at) for every key's. A page reads at most `limit + 1` rows of each
shard of the months it walks (a cursor is the last row shown: `(created_at, id)`), never the whole ledger.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lambdarouter.aws.client import AwsError
from lambdarouter.store.codec import decode_generation, encode_generation
from lambdarouter.store.cursor import decode_cursor, encode_cursor
from lambdarouter.store.dynamodb_items import aliases, value
from lambdarouter.store.dynamodb_summary import SHARDS, month_of, shard, summary_update
from lambdarouter.store.errors import InvalidCursor, StoreUnavailable
from lambdarouter.store.model import GenerationPage, GenerationRecord, Hold
from lambdarouter.store.summary import summarize
from lambdarouter.store.tables import LOG_INDEX, USAGE_BY_KEY_INDEX

LEDGER_RETENTION_SECONDS = 400 * 86400  # the usage table's TTL: a year of history plus a month's slack
MAX_TRIES = 8


@dataclass(frozen=True, slots=True)
class Tables:
    keys: str
    usage: str
    summary: str


def log_month(record: GenerationRecord) -> str:
    """The row's partition of the `by_month` index: its month and a shard of the id (4 partitions a month)."""
    return f"{month_of(record.created_at)}#{shard(record.id)}"


def ledger_put(table: str, record: GenerationRecord) -> dict[str, Any]:
    item = {"id": record.id, "key_hash": record.key_hash, "created_at": record.created_at, "cost": record.cost,
            "status": record.status, "record": encode_generation(record), "log_month": log_month(record),
            "expires_at": int(record.created_at + LEDGER_RETENTION_SECONDS)}
    return {"Put": {"TableName": table, "Item": {k: value(v) for k, v in item.items()},
                    "ConditionExpression": "attribute_not_exists(id)"}}


def charge(table: str, record: GenerationRecord, hold: Hold | None, held: bool) -> dict[str, Any]:
    """The key's update: release the hold (if still there) and add the cost to its counters."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":cost": record.cost}
    sets = "#usage = #usage + :cost, #period_usage = #period_usage + :cost"
    if hold is not None and held:
        names["#id"] = hold.id
        values[":back"] = hold.amount - record.cost
        expression = f"SET #remaining = #remaining + :back, {sets} REMOVE #holds.#id"
        condition = "attribute_exists(#holds.#id)"
    else:
        expression, condition = f"SET #remaining = #remaining - :cost, {sets}", "attribute_exists(#h)"
        names["#h"] = "hash"
        if hold is not None:
            names["#id"] = hold.id
            condition += " AND attribute_not_exists(holds.#id)"
    return {"Update": {"TableName": table, "Key": {"hash": {"S": record.key_hash}},
                       "UpdateExpression": expression, "ConditionExpression": condition,
                       "ExpressionAttributeNames": aliases(expression + " " + condition, names),
                       "ExpressionAttributeValues": {k: value(v) for k, v in values.items()},
                       "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


def transact(client: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """None when the transaction went through, else why each item cancelled it."""
    try:
        client.transact_write_items(TransactItems=items)
    except AwsError as exc:
        if exc.code != "TransactionCanceledException":
            raise
        reasons: list[dict[str, Any]] = exc.body.get("CancellationReasons") or []
        return reasons + [{}] * (len(items) - len(reasons))
    return None


def settle(client: Any, tables: Tables, record: GenerationRecord, hold: Hold | None) -> bool:
    put = ledger_put(tables.usage, record)
    counted = [summary_update(tables.summary, identity, counters)
               for identity, counters in summarize([record]).items()]
    held = hold is not None
    for _ in range(MAX_TRIES):
        reasons = transact(client, [put, charge(tables.keys, record, hold, held), *counted])
        if reasons is None:
            return True
        if reasons[0].get("Code") == "ConditionalCheckFailed":
            return False  # already in the ledger: charged and counted then
        if reasons[1].get("Code") != "ConditionalCheckFailed":
            time.sleep(0.02)  # a conflicting write in flight: try again
            continue
        if "Item" not in reasons[1]:  # the key was deleted meanwhile: keep the ledger row and its counts
            without_key = transact(client, [put, *counted])
            if without_key is None or without_key[0].get("Code") == "ConditionalCheckFailed":
                return without_key is None
            continue
        held = not held if hold is not None else held  # the hold was swept (or is still there): switch
    raise StoreUnavailable(f"could not settle {record.id}: its key kept changing")


def get(client: Any, table: str, generation_id: str) -> GenerationRecord | None:
    found = client.get_item(TableName=table, Key={"id": {"S": generation_id}}, ConsistentRead=True)
    item = found.get("Item")
    return decode_generation(item["record"]["S"]) if item and "record" in item else None


Position = tuple[Decimal, str]  # (created_at, id) of the last row shown


def _older(client: Any, table: str, index: str, partition: tuple[str, str], before: Position | None,
           wanted: int) -> list[tuple[Position, dict[str, Any]]]:
    """At least `wanted` rows of one index partition older than `before` (when it has them), newest first,
    with every row of the oldest second among them: an index orders rows of one second in no particular
    way, so a page is cut by (created_at, id) only once all of that second's rows are in hand."""
    name, key = partition
    condition, values = f"{name} = :p", {":p": {"S": key}}
    if before is not None:
        condition += " AND created_at <= :c"
        values[":c"] = value(before[0])
    pages = client.get_paginator("query").paginate(
        TableName=table, IndexName=index, KeyConditionExpression=condition, ExpressionAttributeValues=values,
        ScanIndexForward=False, PaginationConfig={"PageSize": wanted + 1})
    rows: list[tuple[Position, dict[str, Any]]] = []
    for page_items in pages:
        for item in page_items["Items"]:
            position = (Decimal(item["created_at"]["N"]), item["id"]["S"])
            if len(rows) >= wanted and position[0] < rows[-1][0][0]:
                return rows
            if before is None or position < before:  # rows of the cursor's own second: only those after it
                rows.append((position, item))
    return rows


def _position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    found = decode_cursor(cursor)
    if not (isinstance(found, list) and len(found) == 2 and all(isinstance(part, str) for part in found)):
        raise InvalidCursor("`cursor` is not one this API returned.")
    try:
        return Decimal(found[0]), found[1]
    except ArithmeticError:
        raise InvalidCursor("`cursor` is not one this API returned.") from None


def page(client: Any, table: str, key_hash: str | None, limit: int, cursor: str | None) -> GenerationPage:
    before = _position(cursor)
    wanted = limit + 1  # one more than shown: whether another page follows
    rows: list[tuple[Position, dict[str, Any]]] = []
    if key_hash is not None:
        rows = sorted(_older(client, table, USAGE_BY_KEY_INDEX, ("key_hash", key_hash), before, wanted),
                      key=lambda row: row[0], reverse=True)
    else:
        newest = float(before[0]) if before is not None else time.time()
        oldest = month_of(time.time() - LEDGER_RETENTION_SECONDS)
        month = month_of(newest)
        while len(rows) < wanted and month >= oldest:
            found = [row for number in range(SHARDS) for row in _older(
                client, table, LOG_INDEX, ("log_month", f"{month}#{number}"), before, wanted - len(rows))]
            rows.extend(sorted(found, key=lambda row: row[0], reverse=True)[:wanted - len(rows)])
            month = _previous(month)
    shown = rows[:limit]
    next_cursor = encode_cursor([str(shown[-1][0][0]), shown[-1][0][1]]) if len(rows) > limit else None
    return GenerationPage([decode_generation(item["record"]["S"]) for _, item in shown], next_cursor)


def _previous(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - (number == 1)}-{12 if number == 1 else number - 1:02d}"
