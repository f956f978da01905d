"""template.yaml as the tests read it: the source, SAM's offline transform, the intended wiring of routes.

The transform is aws-sam-translator with the managed-policy lookup answered locally, so no AWS call is
made. The transformed template shows the REST API as API Gateway will import it: which function each
route invokes, and how (the streaming invocation for inference, the buffered one for control routes).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
PREFIXES = ("/api/v1", "/v1")
STACK_NAME = "lambdarouter"  # samconfig.toml's stack_name

CHAT = "ChatCompletionsFunction"
EMBEDDINGS = "EmbeddingsFunction"
MODELS = "ModelsFunction"
MANAGEMENT = "ManagementFunction"
KEY = "KeyFunction"
FUNCTIONS = (CHAT, EMBEDDINGS, MODELS, MANAGEMENT, KEY)
FUNCTION_DIRS = {CHAT: "chat_completions", EMBEDDINGS: "embeddings", MODELS: "models", MANAGEMENT: "management",
                 KEY: "key"}
# Inference: uvicorn under the Lambda Web Adapter, invoked through API Gateway's streaming integration.
WEB_ADAPTER_FUNCTIONS = (CHAT, EMBEDDINGS)

# The intended wiring: (path, method) -> function. Every path also takes OPTIONS (CORS preflight) on the
# function that owns it.
_METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "/chat/completions": (CHAT, ("post",)),
    "/completions": (CHAT, ("post",)),  # the legacy prompt API, served through the chat path
    "/messages": (CHAT, ("post",)),  # Anthropic's Messages API: the same streaming, Bedrock and secrets
    "/messages/count_tokens": (CHAT, ("post",)),
    "/responses": (CHAT, ("post",)),  # OpenAI's Responses API: the same streaming, Bedrock and secrets
    "/responses/{response_id}": (CHAT, ("get", "delete")),  # a 400 (stateless), beside its POST
    "/embeddings": (EMBEDDINGS, ("post",)),
    "/images/generations": (EMBEDDINGS, ("post",)),  # same needs: Bedrock InvokeModel, large answers
    "/images": (EMBEDDINGS, ("post",)),  # OpenRouter's image API: the same operation as /images/generations
    "/models": (MODELS, ("get",)),
    "/models/count": (MODELS, ("get",)),
    "/models/{author}/{slug}": (MODELS, ("get",)),
    "/models/{author}/{slug}/endpoints": (MODELS, ("get",)),
    "/model/{author}/{slug}": (MODELS, ("get",)),
    "/providers": (MODELS, ("get",)),
    "/health": (MODELS, ("get",)),
    "/openapi.json": (MODELS, ("get",)),
    "/dashboard": (MODELS, ("get",)),
    "/dashboard/{name}": (MODELS, ("get",)),
    "/keys": (MANAGEMENT, ("get", "post")),
    "/keys/{hash}": (MANAGEMENT, ("get", "patch", "delete")),
    "/credits": (MANAGEMENT, ("get",)),
    "/usage": (MANAGEMENT, ("get",)),
    "/generations": (MANAGEMENT, ("get",)),
    "/generations/{id}": (MANAGEMENT, ("get",)),
    "/hosts": (MANAGEMENT, ("get",)),
    "/key": (KEY, ("get",)),
    "/generation": (KEY, ("get",)),
}
# App routes API Gateway cannot have as resources of their own: a REST API path never ends in "/" (the page
# redirects /dashboard/ to /dashboard for local servers; behind API Gateway the resource /dashboard serves it).
NOT_ROUTED = {(f"{prefix}/dashboard/", "get") for prefix in PREFIXES}
ROUTES: dict[tuple[str, str], str] = {
    (f"{prefix}{path}", method): function
    for prefix in PREFIXES
    for path, (function, methods) in _METHODS.items()
    for method in (*methods, "options")
}

BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY_WRITE_ONLY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
STREAM_URI = re.compile(
    r"^arn:(aws|\$\{AWS::Partition\}):apigateway:\$\{AWS::Region\}:lambda:path/2021-11-15/functions/"
    r"\$\{(?P<function>\w+)\.Arn\}/response-streaming-invocations$"
)
BUFFERED_URI = re.compile(
    r"^arn:(aws|\$\{AWS::Partition\}):apigateway:\$\{AWS::Region\}:lambda:path/2015-03-31/functions/"
    r"\$\{(?P<function>\w+)\.Arn\}/invocations$"
)


class OfflineManagedPolicies:
    """Stands in for samtranslator's `ManagedPolicyLoader`, which would list AWS managed policies via IAM."""

    def load(self) -> dict[str, str]:
        return {"AWSLambdaBasicExecutionRole": BASIC_EXECUTION_ROLE, "AWSXrayWriteOnlyAccess": XRAY_WRITE_ONLY}


def source() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return template


def transformed_template() -> dict[str, Any]:
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
    return output


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


def event_function(event: dict[str, Any]) -> str:
    """The function an API Gateway event is meant for, by the intended wiring."""
    return ROUTES[(event["resource"], event["httpMethod"].lower())]


def function_environment(function: str, refs: dict[str, str]) -> dict[str, str]:
    """The environment the template gives `function` (Globals merged with its own), with `Ref`s resolved:
    stack resources from `refs` (logical id -> physical name), parameters to their defaults."""
    template = source()
    parameters = template["Parameters"]
    pseudo = {"AWS::StackName": STACK_NAME, "AWS::Region": "us-east-1"}

    def resolve(value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name in refs:
                return refs[name]
            if name in pseudo:
                return pseudo[name]
            return str(parameters[name]["Default"])
        assert isinstance(value, str | int), f"unresolvable environment value {value!r}"
        return str(value)

    merged = {**template["Globals"]["Function"]["Environment"]["Variables"],
              **template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})}
    return {name: resolve(value) for name, value in merged.items()}
