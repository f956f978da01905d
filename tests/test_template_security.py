"""The stack's security, checked on SAM's transformed template: least-privilege roles, the tables as
`lambdarouter.store.tables` defines them, the secret, and the checks a scanner (checkov) makes.

checkov itself is not a dev dependency (it pins boto3 and packaging versions this project does not use, and
weighs ~270 MB); the assertions below are the checks it makes on this template, and
`test_checkov_finds_only_the_accepted_findings` runs the real scanner when one is installed (`CHECKOV` or
`checkov` on PATH), holding its findings to the list docs/deployment.md accepts and explains.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import pytest

from lambdarouter.core.hosts import BUILTIN_HOSTS
from lambdarouter.store.tables import TABLES, cloudformation_resources
from tests.sam_template import (
    BASIC_EXECUTION_ROLE,
    CHAT,
    EMBEDDINGS,
    FUNCTIONS,
    KEY,
    MANAGEMENT,
    MODELS,
    ROOT,
    ROUTES,
    TEMPLATE,
    XRAY_WRITE_ONLY,
    resources_of,
    source,
    transformed_template,
)

_GET, _PUT, _UPDATE, _DELETE = "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
_QUERY, _SCAN, _SECRET = "dynamodb:Query", "dynamodb:Scan", "secretsmanager:GetSecretValue"
_SPEND = {  # authenticate, rate windows, holds, the settlement, its ledger row and aggregates; Idempotency-Key replays
    "KeysTable": {_GET, _UPDATE}, "UsageTable": {_GET, _PUT}, "SummaryTable": {_UPDATE},
    "IdempotencyTable": {_GET, _PUT, _UPDATE, _DELETE}, "ProviderSecret": {_SECRET},
}
# Exactly the actions each function is allowed, by the stack resource (and sub-resource) they apply to; Bedrock
# is checked on its own. Written from the store's and the secrets' calls (docs/deployment.md, "IAM"): a change of
# what a function calls changes this table and its template statements together.
IAM: dict[str, dict[str, set[str]]] = {
    CHAT: _SPEND,
    EMBEDDINGS: {**_SPEND, "GeneratedImagesBucket/generated/*": {"s3:PutObject", "s3:GetObject"}},
    MODELS: {},
    MANAGEMENT: {"KeysTable": {_GET, _PUT, _UPDATE, _DELETE, _SCAN}, "UsageTable": {_GET},
                 "UsageTable/index/by_key": {_QUERY}, "UsageTable/index/by_month": {_QUERY},
                 "SummaryTable": {_QUERY}, "AdminKeySecret": {_SECRET}, "ProviderSecret": {_SECRET}},
    KEY: {"KeysTable": {_GET}, "UsageTable": {_GET}, "SummaryTable": {_QUERY}},
}
BEDROCK_ACTIONS = {CHAT: {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream",
                          "bedrock:CountTokens"},  # /messages/count_tokens
                   EMBEDDINGS: {"bedrock:InvokeModel"}}
SCOPED_BEDROCK = {
    "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/*",
    "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/*",
}
ANY_REGION_MODELS = "arn:${AWS::Partition}:bedrock:*::foundation-model/*"
OWN_PROFILES = "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/*"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


def role_of(transformed: dict[str, Any], function: str) -> dict[str, Any]:
    role_ref = transformed["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    role: dict[str, Any] = transformed["Resources"][role_ref]["Properties"]
    return role


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def stack_resource(resource: Any) -> str:
    """`KeysTable` for `!GetAtt KeysTable.Arn` or `!Ref KeysTable`; `UsageTable/index/by_key` for
    `!Sub ${UsageTable.Arn}/index/by_key`. Anything else (an ARN outside the stack) fails the test."""
    if isinstance(resource, dict) and set(resource) == {"Fn::GetAtt"} and resource["Fn::GetAtt"][1] == "Arn":
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and set(resource) == {"Ref"}:
        return str(resource["Ref"])
    text = sub_text(resource)
    match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.+)?", text)
    assert match, f"not a resource of this stack: {resource}"
    return match.group(1) + (match.group(2) or "")


def granted_actions(transformed: dict[str, Any], function: str) -> dict[str, set[str]]:
    """Stack resource -> the actions a function's inline policies allow on it (Bedrock aside)."""
    granted: dict[str, set[str]] = {}
    for statement in statements(role_of(transformed, function)):
        actions = set(as_list(statement["Action"]))
        if all(a.startswith("bedrock:") for a in actions):
            continue
        for resource in as_list(statement["Resource"]):
            granted.setdefault(stack_resource(resource), set()).update(actions)
    return granted


def sub_text(resource: Any) -> str:
    """The text of an ARN expression (`Fn::Sub`'s template; a reference as `${Name}` or `${Name.Arn}`)."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        body = resource["Fn::Sub"]
        return body if isinstance(body, str) else body[0]
    if isinstance(resource, dict) and set(resource) == {"Ref"}:
        return "${" + str(resource["Ref"]) + "}"
    if isinstance(resource, dict) and set(resource) == {"Fn::GetAtt"}:
        return "${" + ".".join(resource["Fn::GetAtt"]) + "}"
    assert isinstance(resource, str), resource
    return resource


# -- IAM ----------------------------------------------------------------------------------------------------


def test_roles_carry_only_the_two_managed_policies_aws_requires(transformed: dict[str, Any]) -> None:
    """Logs and X-Ray: CloudWatch Logs' and X-Ray's write APIs take no resource scoping of the kind a
    template could give (PutTraceSegments has no resource-level permissions at all)."""
    for function in FUNCTIONS:
        assert role_of(transformed, function)["ManagedPolicyArns"] == [BASIC_EXECUTION_ROLE, XRAY_WRITE_ONLY]


def test_no_inline_policy_grants_a_wildcard(transformed: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        for statement in statements(role_of(transformed, function)):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            for action in as_list(statement["Action"]):
                assert "*" not in action, (function, action)
            for resource in as_list(statement["Resource"]):
                assert resource != "*", function
                assert not sub_text(resource).startswith("*")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_is_allowed_exactly_its_actions(transformed: dict[str, Any], function: str) -> None:
    """Explicit statements, each naming the actions the function's code calls on one resource of the stack."""
    assert granted_actions(transformed, function) == IAM[function]
    for statement in statements(role_of(transformed, function)):
        assert statement.get("Sid"), "every statement says what it is for"


def test_only_the_management_function_may_read_the_management_key(transformed: dict[str, Any]) -> None:
    readers = {f for f in FUNCTIONS if "AdminKeySecret" in granted_actions(transformed, f)}
    assert readers == {MANAGEMENT}
    for function in FUNCTIONS:
        env = transformed["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert ("LAMBDAROUTER_ADMIN_SECRET_ID" in env) == (function == MANAGEMENT), function
        if "LAMBDAROUTER_SECRET_ID" in env:
            assert env["LAMBDAROUTER_SECRET_ID"] == {"Ref": "ProviderSecret"}
            assert "ProviderSecret" in granted_actions(transformed, function), function
    assert transformed["Resources"][MANAGEMENT]["Properties"]["Environment"]["Variables"][
        "LAMBDAROUTER_ADMIN_SECRET_ID"] == {"Ref": "AdminKeySecret"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_bedrock_is_scoped_to_this_region_and_account(transformed: dict[str, Any], function: str) -> None:
    """In-Region models and this account's inference profiles; models elsewhere only through such a profile
    (a cross-Region profile such as us.* serves from several Regions)."""
    bedrock = [s for s in statements(role_of(transformed, function))
               if any(a.startswith("bedrock:") for a in as_list(s["Action"]))]
    if function not in BEDROCK_ACTIONS:
        assert bedrock == []
        return
    assert bedrock
    for statement in bedrock:
        assert set(as_list(statement["Action"])) == BEDROCK_ACTIONS[function]
        resources = {sub_text(r) for r in as_list(statement["Resource"])}
        if resources == {ANY_REGION_MODELS}:
            condition = statement["Condition"]["StringLike"]["bedrock:InferenceProfileArn"]
            assert sub_text(condition) == OWN_PROFILES
        else:
            assert resources <= SCOPED_BEDROCK and "Condition" not in statement


def test_image_bucket_is_private_and_scoped(transformed: dict[str, Any]) -> None:
    """Generated images: only the image function writes and signs, under `generated/`; the bucket is private,
    encrypted, TLS-only and expires what it holds."""
    for function in FUNCTIONS:
        s3 = [s for s in statements(role_of(transformed, function))
              if any(a.startswith("s3:") for a in as_list(s["Action"]))]
        if function != EMBEDDINGS:
            assert s3 == [], function
            continue
        [statement] = s3
        assert set(as_list(statement["Action"])) == {"s3:PutObject", "s3:GetObject"}
        assert as_list(statement["Resource"]) == [{"Fn::Sub": "${GeneratedImagesBucket.Arn}/generated/*"}]
    env = transformed["Resources"][EMBEDDINGS]["Properties"]["Environment"]["Variables"]
    assert env["LAMBDAROUTER_IMAGE_BUCKET"] == {"Ref": "GeneratedImagesBucket"}
    assert env["LAMBDAROUTER_IMAGE_URL_TTL"] == {"Ref": "ImageUrlTtlSeconds"}
    bucket = source()["Resources"]["GeneratedImagesBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    expiry = bucket["LifecycleConfiguration"]["Rules"][0]
    assert expiry["Prefix"] == "generated/" and expiry["ExpirationInDays"] == {"Ref": "ImageRetentionDays"}
    [deny] = source()["Resources"]["GeneratedImagesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_the_api_may_invoke_the_functions(transformed: dict[str, Any]) -> None:
    for permission in resources_of(transformed, "AWS::Lambda::Permission").values():
        props = permission["Properties"]
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert props["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == {"Ref": "Api"}
    assert not resources_of(transformed, "AWS::Lambda::Url")


# -- data -----------------------------------------------------------------------------------------------------


def test_tables_are_exactly_the_code_s_definitions() -> None:
    """Property for property (tests/test_store_tables.py compares the structure the code relies on)."""
    declared = resources_of(source(), "AWS::DynamoDB::Table")
    wanted = cloudformation_resources()
    assert declared.keys() == wanted.keys()
    for name, resource in declared.items():
        assert resource["Properties"] == wanted[name]["Properties"], (
            f"{name}: paste lambdarouter.store.tables.cloudformation_resources()[{name!r}] into template.yaml")


def test_tables_are_on_demand_encrypted_recoverable_and_expiring() -> None:
    declared = resources_of(source(), "AWS::DynamoDB::Table")
    for table in TABLES:
        props = declared[table.logical_id]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", "no cost at idle"
        assert props["SSESpecification"] == {"SSEEnabled": True}, "KMS encryption (AWS-managed key)"
        if table.point_in_time_recovery:
            assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        if table.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
    assert {t.logical_id for t in TABLES if t.point_in_time_recovery} == {"KeysTable", "UsageTable"}
    assert {t.logical_id for t in TABLES if t.ttl_attribute} == {"UsageTable", "SummaryTable", "IdempotencyTable"}


def test_money_outlives_the_stack() -> None:
    declared = resources_of(source(), "AWS::DynamoDB::Table")
    for name in ("KeysTable", "UsageTable"):
        assert declared[name]["DeletionPolicy"] == declared[name]["UpdateReplacePolicy"] == "Retain"
        assert "TableName" not in declared[name]["Properties"], "a fixed name would block a replacement"


def test_table_variables_name_the_stack_tables(transformed: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        env = transformed["Resources"][function]["Properties"]["Environment"]["Variables"]
        for table in TABLES:
            assert env[table.env_var] == {"Ref": table.logical_id}


# -- the secret -------------------------------------------------------------------------------------------------


def test_the_provider_secret_holds_placeholders_only() -> None:
    secret = source()["Resources"]["ProviderSecret"]["Properties"]
    fields = json.loads(secret["SecretString"])
    assert set(fields.values()) == {""}, "placeholders only: provider keys are put in after deploy"
    wanted = {h.api_key_env for h in BUILTIN_HOSTS if h.api_key_env} | {"AZURE_OPENAI_ENDPOINT"}
    assert set(fields) == wanted
    assert "LAMBDAROUTER_ADMIN_KEY" not in fields, "the management key has a secret of its own"


def test_the_management_key_is_generated_in_its_own_secret() -> None:
    secret = source()["Resources"]["AdminKeySecret"]["Properties"]
    assert "SecretString" not in secret
    generate = secret["GenerateSecretString"]
    assert json.loads(generate["SecretStringTemplate"]) == {}
    assert generate["GenerateStringKey"] == "LAMBDAROUTER_ADMIN_KEY"
    assert generate["PasswordLength"] >= 32 and generate["ExcludePunctuation"] is True  # safe in a header


def test_secrets_outlive_the_stack() -> None:
    """What the operator put in (provider keys) and the key clients hold cannot be recreated by a new stack."""
    for name in ("ProviderSecret", "AdminKeySecret"):
        secret = source()["Resources"][name]
        assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
        assert "Name" not in secret["Properties"], "a fixed name would block a new stack"


def test_no_credential_is_written_in_the_template() -> None:
    text = TEMPLATE.read_text()
    for pattern in (r"sk-[A-Za-z0-9-]{16,}", r"AKIA[0-9A-Z]{16}", r"(?i)api[_-]?key\s*[:=]\s*['\"][^'\"]+['\"]"):
        assert not re.search(pattern, text), pattern


# -- what a scanner checks -----------------------------------------------------------------------------------------


def test_the_scanner_s_passing_checks_hold(transformed: dict[str, Any]) -> None:
    """The checkov checks this template passes, as assertions (they stay true without checkov installed)."""
    [stage] = resources_of(transformed, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["TracingEnabled"] is True  # CKV_AWS_73
    for function in FUNCTIONS:
        props = transformed["Resources"][function]["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert "Url" not in props and "FunctionUrlConfig" not in props  # no unauthenticated function URL
    for group in resources_of(transformed, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}  # CKV_AWS_66
    for table in resources_of(transformed, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True


def accepted_findings() -> set[str]:
    """The check ids docs/deployment.md accepts, each with its reason (a table row `| CKV_... | ... |`)."""
    rows = re.findall(r"^\| `?(CKV2?_AWS_\d+)`? \|([^|]+)\|([^|]+)\|", DEPLOYMENT_DOC.read_text(), re.MULTILINE)
    assert all(reason.strip() for _, _, reason in rows)
    return {check for check, _, _ in rows}


def test_accepted_findings_are_documented() -> None:
    assert accepted_findings() >= {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_119", "CKV_AWS_120",
                                   "CKV_AWS_149", "CKV_AWS_158", "CKV_AWS_173", "CKV_AWS_28", "CKV_AWS_76"}


def test_checkov_finds_only_the_accepted_findings(tmp_path: Any) -> None:
    checkov = os.environ.get("CHECKOV") or shutil.which("checkov")
    if not checkov:
        pytest.skip("checkov is not installed (see docs/deployment.md, 'Security scan'); assertions above stand in")
    failed: set[str] = set()
    for target in (TEMPLATE, tmp_path / "transformed.json"):
        if target.suffix == ".json":
            target.write_text(json.dumps(transformed_template()))
        done = subprocess.run([checkov, "-f", str(target), "--framework", "cloudformation", "-o", "json",
                               "--quiet", "--compact"], capture_output=True, text=True, timeout=120, check=False)
        report = json.loads(done.stdout)
        failed |= {check["check_id"] for check in report["results"]["failed_checks"]}
    assert failed <= accepted_findings(), sorted(failed - accepted_findings())


# -- the API's own guards ----------------------------------------------------------------------------------------


def test_management_routes_take_sigv4_when_the_parameter_says_so(transformed: dict[str, Any]) -> None:
    """ManagementApiIamAuth=true: API Gateway requires a SigV4 signature (IAM) on every management route (the
    function still checks the management key); every other route is authenticated by its function."""
    [api] = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    body = api["Properties"]["Body"]
    assert body["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    iam_only = {"Fn::If": ["ManagementIamAuth", [{"sigv4": []}], {"Ref": "AWS::NoValue"}]}
    for path, item in body["paths"].items():
        for method, operation in item.items():
            management = ROUTES[(path, method)] == MANAGEMENT and method != "options"  # a preflight is unsigned
            assert operation.get("security") == (iam_only if management else None), (path, method)
    assert transformed["Conditions"]["ManagementIamAuth"] == {"Fn::Equals": [{"Ref": "ManagementApiIamAuth"}, "true"]}
    assert source()["Parameters"]["ManagementApiIamAuth"]["Default"] == "false"


def test_an_optional_waf_rate_rule_guards_the_stage(transformed: dict[str, Any]) -> None:
    [acl] = resources_of(transformed, "AWS::WAFv2::WebACL").values()
    [association] = resources_of(transformed, "AWS::WAFv2::WebACLAssociation").values()
    assert acl["Condition"] == association["Condition"] == "UseWaf"
    no_waf = {"Fn::Equals": [{"Ref": "WafRequestsPerIpPer5Minutes"}, 0]}
    assert transformed["Conditions"]["UseWaf"] == {"Fn::Not": [no_waf]}
    assert source()["Parameters"]["WafRequestsPerIpPer5Minutes"]["Default"] == 0, "no WAF cost unless asked for"
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    [rule] = props["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == {"Ref": "WafRequestsPerIpPer5Minutes"} and rate["AggregateKeyType"] == "IP"
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    answer = json.loads(props["CustomResponseBodies"][rule["Action"]["Block"]["CustomResponse"]
                        ["CustomResponseBodyKey"]]["Content"])
    assert answer["error"]["code"] == 429, "the gateway's envelope"
    [stage_name] = resources_of(transformed, "AWS::ApiGateway::Stage")
    stage_arn = "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${" + stage_name + "}"
    assert association["Properties"]["ResourceArn"] == {"Fn::Sub": stage_arn}


def test_api_access_logs_name_no_secret_and_outlive_no_role(transformed: dict[str, Any]) -> None:
    [stage] = resources_of(transformed, "AWS::ApiGateway::Stage").values()
    condition, setting, off = stage["Properties"]["AccessLogSetting"]["Fn::If"]
    assert (condition, off) == ("AccessLogs", {"Ref": "AWS::NoValue"})
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])
    assert fields["requestId"] == "$context.requestId" and fields["status"] == "$context.status"
    assert not [v for v in fields.values() if "$input" in v or "header" in v.lower() or "querystring" in v.lower()]
    group = transformed["Resources"]["ApiAccessLogGroup"]
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert source()["Parameters"]["ApiAccessLogs"]["Default"] == "CreateAccountRole", "on by default"
    # The account-wide logging role: created on request, kept with the setting that points at it, and set before
    # the stage (the stage variable's reference orders them).
    for name in ("ApiGatewayAccountRole", "ApiGatewayAccount"):
        resource = transformed["Resources"][name]
        assert resource["Condition"] == "CreateApiGatewayAccountRole"
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    role = transformed["Resources"]["ApiGatewayAccountRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}]
    assert stage["Properties"]["Variables"]["accountLoggingRole"]["Fn::If"][1] == {"Ref": "ApiGatewayAccount"}
