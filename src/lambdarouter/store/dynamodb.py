"""The AWS store: DynamoDB tables defined in store/tables.py.

Money without read-modify-write races. DynamoDB condition expressions cannot add, so the key item carries
`remaining` (= limit - period spend - outstanding holds, see store/model.py) and every change is a single
conditional update that moves it relatively:

- reserve:  SET remaining = remaining - :amt, holds.<id> = {amount, expires_at}
            IF remaining >= :amt AND period_start = :current_period
- settle:   one transaction: the ledger row IF new, the key's charge releasing its hold, the usage
            aggregates (store/dynamodb_ledger.py, store/dynamodb_summary.py)
- roll:     SET remaining = remaining + period_usage, period_usage = 0, period_start = :p IF period_start = :old
- sweep:    SET remaining = remaining + :sum REMOVE holds.<a>, holds.<b> IF each still exists
- limit:    SET limit = :new, remaining = remaining + (:new - :old) IF version = :v   (operator edits only)

Rate windows are two counter attributes on the key item (`rate_window`, `rate_count`), bumped with
`IF rate_window = :w AND rate_count < :n`, or restarted with `IF rate_window < :w`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from lambdarouter.aws.client import AwsError
from lambdarouter.aws.dynamodb import DynamoDB, dynamodb
from lambdarouter.core import config
from lambdarouter.store import dynamodb_ledger, dynamodb_summary
from lambdarouter.store.calls import in_thread
from lambdarouter.store.dynamodb_idempotency import PowertoolsIdempotency
from lambdarouter.store.dynamodb_items import SETTING_ATTRS, aliases, key_item, plain, record_of, value
from lambdarouter.store.dynamodb_ledger import MAX_TRIES, Tables
from lambdarouter.store.errors import StoreUnavailable
from lambdarouter.store.keymaterial import mint_key
from lambdarouter.store.model import (
    ZERO,
    GenerationPage,
    GenerationRecord,
    Hold,
    IdempotencyClaim,
    KeyRecord,
    KeySettings,
    RateDecision,
    RateLimit,
    ReserveResult,
    StoredResponse,
    apply_changes,
    period_start,
)
from lambdarouter.store.protocols import IDEMPOTENCY_IN_PROGRESS_TTL
from lambdarouter.store.summary import UsageRow

_client: DynamoDB | None = None
# Losing a race to another writer: the condition no longer holds, or a transaction holds the item for a moment.
RACES = ("ConditionalCheckFailedException", "TransactionConflictException")

# Not a generation id (those are `gen-…`), so /generation can never return it.
HEALTH_ITEM_ID = "_endpoint-health"


def dynamodb_client() -> DynamoDB:
    """The process-wide client (lambdarouter/aws), created on first use and kept across warm invocations;
    AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL are honoured as boto3 honours them."""
    global _client
    if _client is None:
        _client = dynamodb(region=config.current().aws_region)
    return _client


def boto3_dynamodb_client() -> Any:
    """A botocore client, for what needs one and is rare: Powertools' idempotency layer (Idempotency-Key
    requests) and `lambdarouter store init` (its waiter). boto3 is imported by the first such call only."""
    from lambdarouter.core.aws import aws_session

    return aws_session().client("dynamodb", region_name=config.current().aws_region)


class DynamoDBStore:
    """Every call is a network round trip (the client is synchronous): each runs in a worker thread (`in_thread`)."""

    faults: ClassVar[tuple[type[Exception], ...]] = (AwsError,)

    def __init__(self, keys_table: str, usage_table: str, summary_table: str, idempotency_table: str | None = None,
                 client: Any = None) -> None:
        self.keys_table, self.usage_table, self.summary_table = keys_table, usage_table, summary_table
        self.tables = Tables(keys_table, usage_table, summary_table)
        self._client = client
        self._idempotency = PowertoolsIdempotency(idempotency_table, boto3_dynamodb_client)

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else dynamodb_client()

    def _update(self, key_hash: str, expression: str, condition: str, values: Mapping[str, Any],
                names: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.keys_table, "Key": {"hash": {"S": key_hash}}, "UpdateExpression": expression,
            "ConditionExpression": condition, **extra,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = {k: value(v) for k, v in values.items()}
        kwargs["ExpressionAttributeNames"] = aliases(expression + " " + condition, names)
        result: dict[str, Any] = self.client.update_item(**kwargs)
        return result

    # -- keys -------------------------------------------------------------------------------------------
    @in_thread
    def create_key(self, name: str, settings: KeySettings | None = None) -> tuple[str, KeyRecord]:
        plaintext, record = mint_key(name, settings, time.time())
        item = {**key_item(record), "holds": {}, "version": 0}
        self.client.put_item(TableName=self.keys_table,
                             Item={k: value(v) for k, v in item.items() if v is not None},
                             ConditionExpression="attribute_not_exists(#h)", ExpressionAttributeNames={"#h": "hash"})
        return plaintext, record

    def _get(self, key_hash: str) -> dict[str, Any] | None:
        found = self.client.get_item(TableName=self.keys_table, Key={"hash": {"S": key_hash}}, ConsistentRead=True)
        return plain(found["Item"]) if "Item" in found else None

    @in_thread
    def find_key(self, key_hash: str) -> KeyRecord | None:
        return self._find(key_hash)

    def _find(self, key_hash: str) -> KeyRecord | None:
        item = self._get(key_hash)
        return record_of(item) if item else None

    def _scan_keys(self) -> list[KeyRecord]:
        records: list[KeyRecord] = []
        for page in self.client.get_paginator("scan").paginate(TableName=self.keys_table, ConsistentRead=True):
            records.extend(record_of(plain(item)) for item in page["Items"])
        return sorted(records, key=lambda r: (r.created_at, r.hash))

    @in_thread
    def list_keys(self, offset: int = 0, limit: int | None = None) -> list[KeyRecord]:
        records = self._scan_keys()[offset:]
        return records if limit is None else records[:limit]

    @in_thread
    def has_keys(self) -> bool:
        return bool(self.client.scan(TableName=self.keys_table, Limit=1, ProjectionExpression="#h",
                                     ExpressionAttributeNames={"#h": "hash"})["Items"])

    @in_thread
    def update_key(self, key_hash: str, changes: Mapping[str, Any], now: float) -> KeyRecord | None:
        for _ in range(MAX_TRIES):
            item = self._get(key_hash)
            if item is None:
                return None
            old = record_of(item)
            new = apply_changes(old, changes, now)
            fields = {k: v for k, v in key_item(new).items() if k in SETTING_ATTRS}
            sets = {k: v for k, v in fields.items() if v is not None}
            removes = [k for k in SETTING_ATTRS if fields.get(k) is None]
            names = {f"#{k}": k for k in SETTING_ATTRS}
            values: dict[str, Any] = {f":{k}": v for k, v in sets.items()}
            values |= {":delta": (new.limit or ZERO) - (old.limit or ZERO), ":v": item.get("version", 0),
                       ":one": 1}
            expression = "SET " + ", ".join([f"#{k} = :{k}" for k in sets]
                                            + ["#remaining = #remaining + :delta", "#version = #version + :one"])
            if removes:
                expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
            try:
                self._update(key_hash, expression, "#version = :v", values, names)
            except AwsError as exc:
                if exc.code in RACES:
                    continue  # changed under us: read again
                raise
            return self._find(key_hash)
        raise StoreUnavailable(f"key {key_hash[:12]} kept changing; update not applied")

    @in_thread
    def delete_key(self, key_hash: str) -> bool:
        old = self.client.delete_item(TableName=self.keys_table, Key={"hash": {"S": key_hash}}, ReturnValues="ALL_OLD")
        return "Attributes" in old

    # -- budget -----------------------------------------------------------------------------------------
    @in_thread
    def reserve(self, key: KeyRecord, hold: Hold, now: float) -> ReserveResult:
        """One conditional update and no read first (the authentication has just read the key: a consistent
        read more would cost a read unit and a round trip per request). The record only tells which
        budget period applies; the condition checks the item as it is now (the period policy included),
        and the item before the update comes back either way: with the update to release expired holds
        after it, with a refusal to roll the period or release them and try again."""
        reset = key.limit_reset
        for _ in range(MAX_TRIES):
            current = period_start(reset, now)
            values: dict[str, Any] = {":amt": hold.amount, ":p": current,
                                      ":hold": {"amount": hold.amount, "expires_at": Decimal(repr(hold.expires_at))}}
            same_policy = "attribute_not_exists(#limit_reset)"
            if reset is not None:
                same_policy, values[":reset"] = "#limit_reset = :reset", reset
            try:
                done = self._update(
                    key.hash, "SET #remaining = #remaining - :amt, #holds.#id = :hold",
                    f"#remaining >= :amt AND #period_start >= :p AND {same_policy}", values,
                    {"#id": hold.id, "#limit_reset": "limit_reset"},
                    ReturnValues="ALL_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD")
            except AwsError as exc:
                if exc.code == "TransactionConflictException":
                    continue
                if exc.code != "ConditionalCheckFailedException":
                    raise
                if not (item := plain(exc.body.get("Item", {}))):
                    return ReserveResult(False, ZERO)  # the key is gone
                latest = record_of(item)
                if latest.limit_reset != reset:  # the operator changed the period meanwhile
                    reset = latest.limit_reset
                elif latest.period_start < current:
                    self._try(self._roll, key.hash, latest.period_start, current)
                elif expired := [h for h in latest.holds if h.expires_at <= now]:
                    self._try(self._sweep, key.hash, expired)
                else:
                    return ReserveResult(False, latest.remaining)  # it cannot afford it
                continue
            before = record_of(plain(done["Attributes"]))
            expired = [h for h in before.holds if h.expires_at <= now]
            if expired:  # afforded without them; released now all the same
                self._try(self._sweep, key.hash, expired)
            return ReserveResult(True, before.remaining + sum((h.amount for h in expired), ZERO))
        return ReserveResult(False, ZERO)

    def _try(self, action: Any, *args: Any) -> None:
        """Run a conditional housekeeping update; losing the race to another writer is fine."""
        try:
            action(*args)
        except AwsError as exc:
            if exc.code not in RACES:
                raise

    def _roll(self, key_hash: str, old_start: float, new_start: float) -> None:
        self._update(key_hash, "SET #remaining = #remaining + #period_usage, #period_usage = :zero, #period_start = :p",
                     "#period_start = :old", {":zero": ZERO, ":p": new_start, ":old": old_start})

    def _sweep(self, key_hash: str, expired: list[Hold]) -> None:
        names = {f"#h{i}": h.id for i, h in enumerate(expired)}
        self._update(key_hash, "SET #remaining = #remaining + :sum REMOVE " + ", ".join(f"#holds.{n}" for n in names),
                     " AND ".join(f"attribute_exists(#holds.{n})" for n in names),
                     {":sum": sum((h.amount for h in expired), ZERO)}, names)

    # -- rate windows -----------------------------------------------------------------------------------
    @in_thread
    def hit_rate_window(self, key_hash: str, limit: RateLimit, now: float) -> RateDecision:
        start, end = limit.window(now)
        for _ in range(MAX_TRIES):
            try:
                done = self._update(key_hash, "SET #rate_count = #rate_count + :one",
                                    "#rate_window = :w AND #rate_count < :n", {":one": 1, ":w": start,
                                                                              ":n": limit.requests},
                                    ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
                count = int(plain(done["Attributes"])["rate_count"])
                return RateDecision(True, limit.requests, limit.requests - count, end)
            except AwsError as exc:
                if exc.code == "TransactionConflictException":
                    continue  # a settle's transaction holds the item for a moment
                if exc.code != "ConditionalCheckFailedException":
                    raise
                old = plain(exc.body.get("Item", {}))
            if not old:
                return RateDecision(False, limit.requests, 0, end)  # no such key
            if old.get("rate_window") is not None and float(old["rate_window"]) >= start:
                return RateDecision(False, limit.requests, 0, end)  # this window is full
            try:  # an older window (or none): start this one at 1
                self._update(key_hash, "SET #rate_window = :w, #rate_count = :one",
                             "attribute_exists(#h) AND (attribute_not_exists(#rate_window) OR #rate_window < :w)",
                             {":w": start, ":one": 1}, {"#h": "hash"})
                return RateDecision(True, limit.requests, limit.requests - 1, end)
            except AwsError as exc:
                if exc.code not in RACES:
                    raise  # else another request started the window first: count in it
        return RateDecision(False, limit.requests, 0, end)

    # -- ledger (store/dynamodb_ledger.py) and its aggregates (store/dynamodb_summary.py) ------------------
    @in_thread
    def settle(self, record: GenerationRecord, hold: Hold | None, now: float) -> bool:
        return dynamodb_ledger.settle(self.client, self.tables, record, hold)

    @in_thread
    def get_generation(self, generation_id: str) -> GenerationRecord | None:
        return dynamodb_ledger.get(self.client, self.usage_table, generation_id)

    @in_thread
    def generations(self, key_hash: str | None, limit: int, cursor: str | None = None) -> GenerationPage:
        return dynamodb_ledger.page(self.client, self.usage_table, key_hash, limit, cursor)

    @in_thread
    def usage(self, since: float, until: float, bucket: str) -> list[UsageRow]:
        return dynamodb_summary.usage_rows(self.client, self.summary_table, since, until, bucket)

    @in_thread
    def period_spend(self, key_hash: str, now: float) -> dict[str, Decimal]:
        return dynamodb_summary.key_spend(self.client, self.summary_table, key_hash, now)

    @in_thread
    def backfill(self) -> int:
        """`lambdarouter store backfill` (store/dynamodb_backfill.py): rows older than the aggregates, counted."""
        from lambdarouter.store.dynamodb_backfill import backfill

        return backfill(self.client, self.tables)

    # -- endpoint health: one advisory item in the usage table, invisible to ledger queries and scans (it has
    # no key_hash for the index and no created_at for the scan's filter) ----------------------------------
    @in_thread
    def load_health(self) -> dict[str, dict[str, Any]]:
        found = self.client.get_item(TableName=self.usage_table, Key={"id": {"S": HEALTH_ITEM_ID}})
        item = found.get("Item")
        loaded: dict[str, dict[str, Any]] = json.loads(item["health"]["S"]) if item and "health" in item else {}
        return loaded

    @in_thread
    def save_health(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        body = json.dumps({endpoint: dict(row) for endpoint, row in stats.items()})
        self.client.put_item(TableName=self.usage_table, Item={"id": {"S": HEALTH_ITEM_ID}, "health": {"S": body}})

    # -- idempotency ------------------------------------------------------------------------------------
    @in_thread
    def claim_idempotency(self, scope: str, key: str, body_hash: str,
                          in_progress_ttl: float = IDEMPOTENCY_IN_PROGRESS_TTL) -> IdempotencyClaim:
        return self._idempotency.claim(scope, key, body_hash, in_progress_ttl)

    @in_thread
    def complete_idempotency(self, scope: str, key: str, body_hash: str, response: StoredResponse) -> None:
        self._idempotency.complete(scope, key, body_hash, response)

    @in_thread
    def release_idempotency(self, scope: str, key: str, body_hash: str) -> None:
        self._idempotency.release(scope, key, body_hash)
