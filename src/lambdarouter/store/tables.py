"""The DynamoDB tables as data: one definition for `lambdarouter store init` and for template.yaml.

`cloudformation_resources()` renders them as `AWS::DynamoDB::Table` resources (the deployment's template
declares the same; tests/test_store_tables.py keeps the two in step), `create_tables()` creates them with
boto3 in a development account or any DynamoDB-compatible endpoint (`AWS_ENDPOINT_URL_DYNAMODB`).
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

USAGE_BY_KEY_INDEX = "by_key"
LOG_INDEX = "by_month"  # every key's generations, newest first (store/dynamodb_ledger.py)


class Index(Struct, frozen=True):
    name: str
    hash_key: str
    range_key: str | None = None


class TableDef(Struct, frozen=True):
    logical_id: str  # the template's resource name
    env_var: str  # where the functions read the table name
    default_name: str  # what `store init` creates when the variable is unset
    hash_key: str
    attributes: tuple[tuple[str, str], ...]  # (name, S | N) of every key attribute
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    point_in_time_recovery: bool = False  # money tables: restorable to any second of the last 35 days


TABLES: tuple[TableDef, ...] = (
    # Hashed key → the key's settings, budget counters, outstanding holds and current rate window.
    TableDef("KeysTable", "LAMBDAROUTER_KEYS_TABLE", "lambdarouter-keys", "hash", (("hash", "S"),),
             point_in_time_recovery=True),
    # One item per generation; `by_key` is one key's request log, `by_month` every key's (sharded months).
    TableDef("UsageTable", "LAMBDAROUTER_USAGE_TABLE", "lambdarouter-usage", "id",
             (("id", "S"), ("key_hash", "S"), ("created_at", "N"), ("log_month", "S")),
             indexes=(Index(USAGE_BY_KEY_INDEX, "key_hash", "created_at"), Index(LOG_INDEX, "log_month", "created_at")),
             ttl_attribute="expires_at", point_in_time_recovery=True),
    # Usage aggregates per hour and day (store/dynamodb_summary.py), counted at settle: derived from the ledger,
    # so without point-in-time recovery of their own.
    TableDef("SummaryTable", "LAMBDAROUTER_SUMMARY_TABLE", "lambdarouter-usage-summary", "pk",
             (("pk", "S"), ("sk", "S")), range_key="sk", ttl_attribute="expires_at"),
    # Powertools idempotency's default layout (partition key `id`, TTL `expiration`).
    TableDef("IdempotencyTable", "LAMBDAROUTER_IDEMPOTENCY_TABLE", "lambdarouter-idempotency", "id",
             (("id", "S"),), ttl_attribute="expiration"),
)


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def table_properties(table: TableDef) -> dict[str, Any]:
    """The properties CloudFormation and `CreateTable` share (without the table name)."""
    props: dict[str, Any] = {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in table.attributes],
        "KeySchema": _key_schema(table.hash_key, table.range_key),
    }
    if table.indexes:
        props["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": _key_schema(i.hash_key, i.range_key),
             "Projection": {"ProjectionType": "ALL"}} for i in table.indexes
        ]
    return props


def cloudformation_resources() -> dict[str, dict[str, Any]]:
    """The tables as template.yaml resources (logical id → resource)."""
    resources: dict[str, dict[str, Any]] = {}
    for table in TABLES:
        props = table_properties(table)
        if table.ttl_attribute:
            props["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
        if table.point_in_time_recovery:
            props["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        props["SSESpecification"] = {"SSEEnabled": True}
        resources[table.logical_id] = {"Type": "AWS::DynamoDB::Table", "Properties": props}
    return resources


def table_names(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Logical id → table name: the configured names (core/config.py), else the defaults."""
    from lambdarouter.core import config

    settings = config.Settings.from_env(environ) if environ is not None else config.current()
    configured = {"KeysTable": settings.keys_table, "UsageTable": settings.usage_table,
                  "SummaryTable": settings.summary_table, "IdempotencyTable": settings.idempotency_table}
    return {t.logical_id: configured.get(t.logical_id) or t.default_name for t in TABLES}


def create_tables(client: Any, names: dict[str, str]) -> list[tuple[str, str]]:
    """Create the tables that do not exist yet (and turn on their TTL); returns (name, "created" | "exists")."""
    done: list[tuple[str, str]] = []
    for table in TABLES:
        name = names[table.logical_id]
        try:
            client.create_table(TableName=name, **table_properties(table))
        except client.exceptions.ResourceInUseException:
            done.append((name, "exists"))
            continue
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        if table.ttl_attribute:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": table.ttl_attribute, "Enabled": True})
        done.append((name, "created"))
    return done
