"""store/tables.py is the one definition of the DynamoDB tables: template.yaml must declare the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from lambdarouter.store.tables import TABLES, cloudformation_resources

TEMPLATE = Path(__file__).parent.parent / "template.yaml"
# The parts that make a table what the code expects (names, billing and encryption are the template's call).
STRUCTURE = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "TimeToLiveSpecification")


def _normalised(properties: dict[str, Any]) -> dict[str, Any]:
    out = {name: properties.get(name) for name in STRUCTURE}
    out["AttributeDefinitions"] = sorted(out["AttributeDefinitions"] or [], key=lambda a: a["AttributeName"])
    for index in out["GlobalSecondaryIndexes"] or []:
        index.pop("ProvisionedThroughput", None)
    return out


def test_definitions_are_well_formed() -> None:
    resources = cloudformation_resources()
    assert set(resources) == {t.logical_id for t in TABLES}
    for resource in resources.values():
        props = resource["Properties"]
        declared = {a["AttributeName"] for a in props["AttributeDefinitions"]}
        used = {k["AttributeName"] for k in props["KeySchema"]}
        used |= {k["AttributeName"] for i in props.get("GlobalSecondaryIndexes", []) for k in i["KeySchema"]}
        assert declared == used  # DynamoDB refuses unused attribute definitions


def declared_tables(template_path: Path) -> dict[str, Any]:
    # SAM's own parser: `!Ref`, `!Sub` … become their JSON forms; only the tables' structure is compared.
    template: dict[str, Any] = yaml_parse(template_path.read_text()) if template_path.exists() else {}
    return {name: r for name, r in (template.get("Resources") or {}).items() if r.get("Type") == "AWS::DynamoDB::Table"}


def drift(declared: dict[str, Any]) -> list[str]:
    """How the declared tables differ from store/tables.py (empty when in step)."""
    problems = []
    for logical_id, resource in cloudformation_resources().items():
        if logical_id not in declared:
            problems.append(f"template.yaml lacks {logical_id}")
        elif _normalised(declared[logical_id]["Properties"]) != _normalised(resource["Properties"]):
            problems.append(f"{logical_id} differs from lambdarouter.store.tables")
    return problems


def test_template_declares_the_same_tables() -> None:
    declared = declared_tables(TEMPLATE)
    if not declared:
        pytest.skip("template.yaml declares no DynamoDB tables yet (the deployment issue adds them from "
                    "lambdarouter.store.tables.cloudformation_resources())")
    assert drift(declared) == []


def test_the_comparison_catches_drift(tmp_path: Path) -> None:
    resources = cloudformation_resources()
    resources["KeysTable"]["Properties"]["TableName"] = {"Fn::Sub": "${AWS::StackName}-keys"}
    template = tmp_path / "template.yaml"
    template.write_text(json.dumps({"Resources": resources}))
    assert drift(declared_tables(template)) == []
    resources["UsageTable"]["Properties"]["GlobalSecondaryIndexes"][0]["KeySchema"].pop()
    del resources["IdempotencyTable"]
    template.write_text(json.dumps({"Resources": resources}))
    assert drift(declared_tables(template)) == ["UsageTable differs from lambdarouter.store.tables",
                                                "template.yaml lacks IdempotencyTable"]
