"""The SAM stack, checked offline: cfn-lint, then SAM's own transform (what CloudFormation runs on deploy).

The transform is aws-sam-translator with the managed-policy lookup answered locally, so no AWS call is
made. The transformed template shows the REST API as API Gateway will import it: which function each
route invokes, and how (the streaming invocation for inference, the buffered one for control routes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

PREFIXES = ("/api/v1", "/v1")
CHAT = "ChatCompletionsFunction"
MODELS = "ModelsFunction"
ROUTES: dict[tuple[str, str], str] = {
    **{(f"{p}/chat/completions", m): CHAT for p in PREFIXES for m in ("post", "options")},
    **{
        (f"{p}{route}", m): MODELS
        for p in PREFIXES
        for route in ("/models", "/models/{author}/{slug}/endpoints", "/health", "/openapi.json")
        for m in ("get", "options")
    },
}
STREAM_URI = re.compile(
    r"^arn:(aws|\$\{AWS::Partition\}):apigateway:\$\{AWS::Region\}:lambda:path/2021-11-15/functions/"
    r"\$\{(?P<function>\w+)\.Arn\}/response-streaming-invocations$"
)
BUFFERED_URI = re.compile(
    r"^arn:(aws|\$\{AWS::Partition\}):apigateway:\$\{AWS::Region\}:lambda:path/2015-03-31/functions/"
    r"\$\{(?P<function>\w+)\.Arn\}/invocations$"
)
SOURCE_ARN = re.compile(
    r"arn:[^:]+:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{__ApiId__\}/\$\{__Stage__\}/"
    r"(?P<method>[A-Z]+)(?P<path>/.*)"
)
BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


class OfflineManagedPolicies:
    """Stands in for samtranslator's `ManagedPolicyLoader`, which would list AWS managed policies via IAM."""

    def __init__(self) -> None:
        self.loads = 0

    def load(self) -> dict[str, str]:
        self.loads += 1
        return {"AWSLambdaBasicExecutionRole": BASIC_EXECUTION_ROLE}


def source() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return template


@pytest.fixture(scope="module")
def transformed() -> Iterator[dict[str, Any]]:
    template = source()
    # What `sam package` does before CloudFormation sees the template: local code paths become S3 URIs.
    for resource in template["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{resource['Properties'][key]}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM derives the partition from the region
        env.delenv("AWS_REGION", raising=False)
        output: dict[str, Any] = transform(template, {}, OfflineManagedPolicies())
        yield output


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def integrations(transformed: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    [api] = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    return {
        (path, method): operation["x-amazon-apigateway-integration"]
        for path, item in api["Properties"]["Body"]["paths"].items()
        for method, operation in item.items()
    }


def target(integration: dict[str, Any]) -> tuple[str, bool]:
    """The function an integration invokes, and whether it invokes it with response streaming."""
    uri = integration["uri"]["Fn::Sub"]
    for pattern, streamed in ((STREAM_URI, True), (BUFFERED_URI, False)):
        match = pattern.match(uri)
        if match:
            return match.group("function"), streamed
    raise AssertionError(f"not a Lambda proxy invocation URI: {uri}")


# -- lint -------------------------------------------------------------------------------------------------


def test_cfn_lint_passes() -> None:
    matches = lint(TEMPLATE.read_text())
    assert [str(m) for m in matches] == []


def test_transform_is_offline_and_complete(transformed: dict[str, Any]) -> None:
    assert "Transform" not in transformed
    assert not resources_of(transformed, "AWS::Serverless::Function")
    assert set(resources_of(transformed, "AWS::Lambda::Function")) == {CHAT, MODELS}


# -- routes -------------------------------------------------------------------------------------------------


def test_every_route_of_both_prefixes_targets_its_function(transformed: dict[str, Any]) -> None:
    routes = {route: target(integration)[0] for route, integration in integrations(transformed).items()}
    assert routes == ROUTES


def test_chat_is_invoked_with_response_streaming(transformed: dict[str, Any]) -> None:
    for route, integration in integrations(transformed).items():
        function, streamed = target(integration)
        assert integration["type"] == "aws_proxy"
        assert integration["httpMethod"] == "POST"  # Lambda is always invoked with POST
        if function == CHAT:
            assert streamed, route
            assert integration["responseTransferMode"] == "STREAM", route
        else:
            assert not streamed, route
            assert integration.get("responseTransferMode", "BUFFERED") == "BUFFERED", route
    for prefix in PREFIXES:
        timeout = integrations(transformed)[(f"{prefix}/chat/completions", "post")]["timeoutInMillis"]
        assert 29_000 < timeout <= 900_000, "streamed calls may outlive the 29 s buffered limit, up to 15 min"


def test_api_gateway_may_invoke_each_route(transformed: dict[str, Any]) -> None:
    permissions = resources_of(transformed, "AWS::Lambda::Permission").values()
    granted: set[tuple[str, str, str]] = set()
    for permission in permissions:
        props = permission["Properties"]
        assert props["Action"] == "lambda:InvokeFunction"
        assert props["Principal"] == "apigateway.amazonaws.com"
        arn_template, values = props["SourceArn"]["Fn::Sub"]
        assert values["__ApiId__"] == {"Ref": "Api"}
        match = SOURCE_ARN.fullmatch(arn_template)
        assert match, arn_template
        granted.add((props["FunctionName"]["Ref"], match["method"].lower(), match["path"]))
    for (path, method), function in ROUTES.items():
        assert (function, method, re.sub(r"\{[^/]+\}", "*", path)) in granted


def test_api_is_regional_with_one_stage(transformed: dict[str, Any]) -> None:
    [api] = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"]["Types"] == ["REGIONAL"]
    [stage] = resources_of(transformed, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    assert source()["Parameters"]["Stage"]["Default"] == "prod"


def test_gateway_errors_use_the_envelope(transformed: dict[str, Any]) -> None:
    [api] = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"  # what an unknown route gets
    for name, response in responses.items():
        body = json.loads(response["responseTemplates"]["application/json"])
        assert set(body) == {"error"}, name
        assert body["error"]["code"] == int(response["statusCode"]), name
        assert body["error"]["code"] != 500, name


def test_each_event_is_a_route_of_the_function_its_test_invokes(transformed: dict[str, Any]) -> None:
    routes = {route: target(integration)[0] for route, integration in integrations(transformed).items()}
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text())
        expected = CHAT if path.stem.startswith("chat-completions") else MODELS
        assert routes.get((event["resource"], event["httpMethod"].lower())) == expected, path.name


# -- functions and layer ----------------------------------------------------------------------------------


def layer_id(transformed: dict[str, Any]) -> str:
    [name] = resources_of(transformed, "AWS::Lambda::LayerVersion")
    return name


def test_functions_are_arm64_python_with_the_shared_layer(transformed: dict[str, Any]) -> None:
    functions = resources_of(transformed, "AWS::Lambda::Function")
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Architectures"] == ["arm64"], name
        assert props["Runtime"] == "python3.12", name
        assert {"Ref": layer_id(transformed)} in props["Layers"], name
    layer = transformed["Resources"][layer_id(transformed)]["Properties"]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]


def test_chat_function_runs_under_the_web_adapter(transformed: dict[str, Any]) -> None:
    props = transformed["Resources"][CHAT]["Properties"]
    assert props["Handler"] == "run.sh"
    assert props["Timeout"] == 900
    env = props["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    adapter = [layer["Fn::Sub"] for layer in props["Layers"] if isinstance(layer, dict) and "Fn::Sub" in layer]
    assert adapter == [
        "arn:aws:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:${WebAdapterLayerVersion}"
    ]
    assert isinstance(source()["Parameters"]["WebAdapterLayerVersion"]["Default"], int)


def test_models_function_is_a_mangum_handler(transformed: dict[str, Any]) -> None:
    props = transformed["Resources"][MODELS]["Properties"]
    assert props["Handler"] == "app.handler"
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in props["Environment"]["Variables"]
    assert props["Timeout"] <= 29, "a buffered API Gateway integration gives up after 29 s"


def test_functions_may_only_write_logs(transformed: dict[str, Any]) -> None:
    roles = resources_of(transformed, "AWS::IAM::Role")
    assert len(roles) == 2
    for name, role in roles.items():
        assert role["Properties"]["ManagedPolicyArns"] == [BASIC_EXECUTION_ROLE], name
        assert "Policies" not in role["Properties"], name


def test_parameters_reach_the_functions(transformed: dict[str, Any]) -> None:
    parameters = source()["Parameters"]
    assert {"Stage", "MemorySize", "LogLevel", "CorsAllowedOrigins"} <= parameters.keys()
    assert parameters["CorsAllowedOrigins"]["Default"] == ""
    for name in (CHAT, MODELS):
        props = transformed["Resources"][name]["Properties"]
        assert props["MemorySize"] == {"Ref": "MemorySize"}
        env = props["Environment"]["Variables"]
        assert env["LOG_LEVEL"] == {"Ref": "LogLevel"}
        assert env["LAMBDAROUTER_CORS_ORIGINS"] == {"Ref": "CorsAllowedOrigins"}


def test_outputs_give_the_base_urls(transformed: dict[str, Any]) -> None:
    outputs = transformed["Outputs"]
    api_url = outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert re.fullmatch(
        r"https://\$\{Api\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}/\$\{Stage\}/api/v1", api_url
    )
    assert outputs["OpenAIApiUrl"]["Value"]["Fn::Sub"] == api_url.removesuffix("/api/v1") + "/v1"


def test_every_makefile_build_has_its_target() -> None:
    """`BuildMethod: makefile` runs `make build-<LogicalId>` with the Makefile in the code directory."""
    built = 0
    for name, resource in source()["Resources"].items():
        if resource.get("Metadata", {}).get("BuildMethod") != "makefile":
            continue
        props = resource["Properties"]
        makefile = ROOT / (props.get("CodeUri") or props["ContentUri"]) / "Makefile"
        assert re.search(rf"^build-{name}:", makefile.read_text(), re.MULTILINE), f"{makefile} lacks build-{name}"
        built += 1
    assert built == 3


def test_run_script_is_an_executable_posix_script() -> None:
    run_sh = ROOT / "functions" / "chat_completions" / "run.sh"
    assert run_sh.read_text().startswith("#!/bin/sh\n")
    assert run_sh.stat().st_mode & 0o111 == 0o111
