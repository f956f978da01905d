"""The SAM stack, checked offline: cfn-lint, then SAM's own transform (what CloudFormation runs on deploy).

Routes and functions here; IAM, data, secret and the security scan in test_template_security.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfnlint.api import lint
from starlette.routing import Mount, Route

from lambdarouter.http.app import create_app
from tests.lambda_events import import_by_path
from tests.sam_template import (
    EVENTS,
    FUNCTION_DIRS,
    FUNCTIONS,
    MANAGEMENT,
    NOT_ROUTED,
    ROOT,
    ROUTES,
    TEMPLATE,
    WEB_ADAPTER_FUNCTIONS,
    event_function,
    integrations,
    resources_of,
    source,
    target,
    transformed_template,
)

SOURCE_ARN = re.compile(
    r"arn:[^:]+:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{__ApiId__\}/\$\{__Stage__\}/"
    r"(?P<method>[A-Z]+)(?P<path>/.*)"
)


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


# -- lint -------------------------------------------------------------------------------------------------


def test_cfn_lint_passes() -> None:
    matches = lint(TEMPLATE.read_text())
    assert [str(m) for m in matches] == []


def test_transform_is_offline_and_complete(transformed: dict[str, Any]) -> None:
    assert "Transform" not in transformed
    assert not resources_of(transformed, "AWS::Serverless::Function")
    assert set(resources_of(transformed, "AWS::Lambda::Function")) == set(FUNCTIONS)


# -- routes -------------------------------------------------------------------------------------------------


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(path, method) of every route an app serves, under both mounts (HEAD aside: API Gateway has no HEAD)."""
    served = set()
    for mount in app.routes:
        assert isinstance(mount, Mount)
        for route in mount.routes:
            assert isinstance(route, Route) and route.methods
            served |= {(f"{mount.path}{route.path}", m.lower()) for m in route.methods if m != "HEAD"}
    return served


def test_the_template_routes_every_route_of_the_app() -> None:
    """Every route the ASGI app has (all groups) is an API route, and the API has no route the app lacks."""
    declared = {route for route in ROUTES if route[1] != "options"}
    assert app_routes(create_app()) - NOT_ROUTED == declared


def test_each_function_serves_exactly_its_routes() -> None:
    """The entry point of each function builds an app with just the routes the template sends it."""
    for function, directory in FUNCTION_DIRS.items():
        module = import_by_path(ROOT / "functions" / directory / "app.py", f"lambdarouter_function_{directory}")
        app = module.app if function in WEB_ADAPTER_FUNCTIONS else module.handler.app
        wanted = {route for route, owner in ROUTES.items() if owner == function and route[1] != "options"}
        if function in WEB_ADAPTER_FUNCTIONS:  # the adapter's readiness probe, never routed to them by the API
            wanted |= {(f"{prefix}/health", "get") for prefix in ("/api/v1", "/v1")}
        assert app_routes(app) - NOT_ROUTED == wanted, function


def test_every_route_of_both_prefixes_targets_its_function(transformed: dict[str, Any]) -> None:
    routes = {route: target(integration)[0] for route, integration in integrations(transformed).items()}
    assert routes == ROUTES


def test_only_inference_is_invoked_with_response_streaming(transformed: dict[str, Any]) -> None:
    for route, integration in integrations(transformed).items():
        function, streamed = target(integration)
        assert integration["type"] == "aws_proxy"
        assert integration["httpMethod"] == "POST"  # Lambda is always invoked with POST
        if function in WEB_ADAPTER_FUNCTIONS:
            assert streamed, route
            assert integration["responseTransferMode"] == "STREAM", route
        else:
            assert not streamed, route
            assert integration.get("responseTransferMode", "BUFFERED") == "BUFFERED", route
    for (path, method), function in ROUTES.items():
        if function in WEB_ADAPTER_FUNCTIONS and method == "post":
            timeout = integrations(transformed)[(path, method)]["timeoutInMillis"]
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


def test_api_is_regional_with_one_stage_traced_and_throttled(transformed: dict[str, Any]) -> None:
    [api] = resources_of(transformed, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"]["Types"] == ["REGIONAL"]
    [stage] = resources_of(transformed, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    assert stage["Properties"]["TracingEnabled"] is True
    [settings] = stage["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
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
        assert routes.get((event["resource"], event["httpMethod"].lower())) == event_function(event), path.name


def test_every_function_has_events(transformed: dict[str, Any]) -> None:
    covered = {event_function(json.loads(p.read_text())) for p in EVENTS.glob("*.json")}
    assert covered == set(FUNCTIONS)


# -- functions and layer ----------------------------------------------------------------------------------


def layer_id(transformed: dict[str, Any]) -> str:
    [name] = resources_of(transformed, "AWS::Lambda::LayerVersion")
    return name


def test_functions_are_arm64_python_traced_with_the_shared_layer(transformed: dict[str, Any]) -> None:
    functions = resources_of(transformed, "AWS::Lambda::Function")
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Architectures"] == ["arm64"], name
        assert props["Runtime"] == "python3.12", name
        assert {"Ref": layer_id(transformed)} in props["Layers"], name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
    layer = transformed["Resources"][layer_id(transformed)]["Properties"]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]


@pytest.mark.parametrize("function", WEB_ADAPTER_FUNCTIONS)
def test_inference_functions_run_under_the_web_adapter(transformed: dict[str, Any], function: str) -> None:
    props = transformed["Resources"][function]["Properties"]
    assert props["Handler"] == "run.sh"
    assert props["Timeout"] == 900
    env = props["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    # The adapter's readiness probe asks a route the app serves (200), not "/" (a 404 in the logs).
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/api/v1/health"
    if function == "ChatCompletionsFunction":  # the streamed routes: a stream ends and is booked before Lambda's
        assert float(env["LAMBDAROUTER_STREAM_LIMIT"]) <= props["Timeout"] - 30  # timeout kills the process
    adapter = [layer["Fn::Sub"] for layer in props["Layers"] if isinstance(layer, dict) and "Fn::Sub" in layer]
    assert adapter == [
        "arn:aws:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:${WebAdapterLayerVersion}"
    ]
    assert isinstance(source()["Parameters"]["WebAdapterLayerVersion"]["Default"], int)


def test_control_functions_are_mangum_handlers(transformed: dict[str, Any]) -> None:
    for name in set(FUNCTIONS) - set(WEB_ADAPTER_FUNCTIONS):
        props = transformed["Resources"][name]["Properties"]
        assert props["Handler"] == "app.handler", name
        assert "AWS_LAMBDA_EXEC_WRAPPER" not in props["Environment"]["Variables"], name
        assert props["Timeout"] <= 29, "a buffered API Gateway integration gives up after 29 s"


def test_every_function_logs_to_a_group_with_retention() -> None:
    groups = resources_of(source(), "AWS::Logs::LogGroup")
    named = {g["Properties"]["LogGroupName"]["Fn::Sub"]: g
             for g in groups.values() if "LogGroupName" in g["Properties"]}
    for function in FUNCTIONS:
        group = named[f"/aws/lambda/${{{function}}}"]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


def test_parameters_reach_the_functions(transformed: dict[str, Any]) -> None:
    parameters = source()["Parameters"]
    assert {"Stage", "MemorySize", "LogLevel", "CorsAllowedOrigins"} <= parameters.keys()
    assert parameters["CorsAllowedOrigins"]["Default"] == "", "CORS is closed unless origins are given"
    for name in FUNCTIONS:
        props = transformed["Resources"][name]["Properties"]
        assert props["MemorySize"] == {"Ref": "MemorySize"}
        env = props["Environment"]["Variables"]
        assert env["LOG_LEVEL"] == {"Ref": "LogLevel"}
        assert env["LAMBDAROUTER_CORS_ORIGINS"] == {"Ref": "CorsAllowedOrigins"}
        assert env["POWERTOOLS_SERVICE_NAME"] == "lambdarouter"
        assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == env["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
        assert env["LAMBDAROUTER_SECRET_TTL"] == {"Ref": "SecretCacheSeconds"}
        assert "LAMBDAROUTER_DB" not in env, "on AWS the store is DynamoDB, never a file in /tmp"


def test_the_management_function_may_have_concurrency_of_its_own(transformed: dict[str, Any]) -> None:
    """Reserved on request only: a new account (limit 10) cannot reserve any, and a default must deploy there."""
    reserved = transformed["Resources"][MANAGEMENT]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["ReserveManagementConcurrency", {"Ref": "ManagementReservedConcurrency"},
                                   {"Ref": "AWS::NoValue"}]}
    assert source()["Parameters"]["ManagementReservedConcurrency"]["Default"] == 0
    for name in set(FUNCTIONS) - {MANAGEMENT}:
        assert "ReservedConcurrentExecutions" not in transformed["Resources"][name]["Properties"]


def test_the_throttling_parameters_say_what_api_gateway_does() -> None:
    """Stage MethodSettings on "/*" + "*" apply to each method on its own: there is no stage-wide ceiling."""
    for name in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        description = source()["Parameters"][name]["Description"]
        assert "each method" in description and "whole stage" not in description


def test_outputs(transformed: dict[str, Any]) -> None:
    outputs = transformed["Outputs"]
    api_url = outputs["ApiUrl"]["Value"]["Fn::Sub"]
    assert re.fullmatch(
        r"https://\$\{Api\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}/\$\{Stage\}/api/v1", api_url
    )
    assert outputs["OpenAIApiUrl"]["Value"]["Fn::Sub"] == api_url.removesuffix("/api/v1") + "/v1"
    assert outputs["SecretArn"]["Value"] == {"Ref": "ProviderSecret"}
    for table in ("KeysTable", "UsageTable", "SummaryTable", "IdempotencyTable"):
        assert outputs[f"{table}Name"]["Value"] == {"Ref": table}


def test_every_makefile_build_has_its_target() -> None:
    """`BuildMethod: makefile` runs `make build-<LogicalId>` with the Makefile in the code directory."""
    built = set()
    for name, resource in source()["Resources"].items():
        if resource.get("Metadata", {}).get("BuildMethod") != "makefile":
            continue
        props = resource["Properties"]
        makefile = ROOT / (props.get("CodeUri") or props["ContentUri"]) / "Makefile"
        assert re.search(rf"^build-{name}:", makefile.read_text(), re.MULTILINE), f"{makefile} lacks build-{name}"
        built.add(name)
    assert built == {*FUNCTIONS, "LambdarouterLayer"}


def test_function_code_is_only_the_entry_point() -> None:
    for function, directory in FUNCTION_DIRS.items():
        files = {p.name for p in (ROOT / "functions" / directory).iterdir() if p.name != "__pycache__"}
        wanted = {"Makefile", "app.py", "run.sh"} if function in WEB_ADAPTER_FUNCTIONS else {"Makefile", "app.py"}
        assert files == wanted, function


def test_run_scripts_are_one_executable_posix_script() -> None:
    scripts = [ROOT / "functions" / FUNCTION_DIRS[function] / "run.sh" for function in WEB_ADAPTER_FUNCTIONS]
    assert len({script.read_text() for script in scripts}) == 1, "one script, copied per function"
    for run_sh in scripts:
        assert run_sh.read_text().startswith("#!/bin/sh\n")
        assert run_sh.stat().st_mode & 0o111 == 0o111
