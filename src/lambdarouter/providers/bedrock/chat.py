"""AWS Bedrock Converse / ConverseStream wire format (host `amazon-bedrock`).

Reference: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html and
API_runtime_ConverseStream.html; one request shape for every Bedrock model, model-specific extras in
`additionalModelRequestFields`. Modules: this one builds the request body and the signed HTTP request;
`bedrock_messages` translates the conversation, `bedrock_stream` the answers, `bedrock_errors` the
failures and `bedrock_auth` signs (SigV4, standard AWS credential chain; see there why boto3's client
is not used).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.conversation import (
    ChatRequest,
    JsonSchemaFormat,
    NamedTool,
    OutputFormat,
    TextFormat,
    Tool,
    ToolChoice,
)
from lambdarouter.core.errors import bad_request
from lambdarouter.core.events import StreamEvent
from lambdarouter.profiles import claude
from lambdarouter.providers.base import HttpRequest, UpstreamCall, host_of
from lambdarouter.providers.bedrock.family import BedrockMember
from lambdarouter.providers.bedrock.messages import (
    MessageTranslator,
    cache_point,
    has_tool_blocks,
    history_tool_names,
    system_blocks,
)
from lambdarouter.providers.bedrock.stream import BedrockStreamDecoder, parse_converse

EVENTSTREAM = "application/vnd.amazon.eventstream"

# Converse structured output has no json_object mode (outputConfig.textFormat takes only json_schema),
# so json_object is asked for in the system prompt, as OpenAI's own JSON mode requires the prompt to.
JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else: no prose, no code fences."
# Converse requires toolConfig whenever the messages hold toolUse / toolResult blocks ("The toolConfig
# field must be defined when using toolUse and toolResult content blocks."); with no tools declared the
# tools the history used are declared with this schema, which accepts any input.
PERMISSIVE_SCHEMA: Mapping[str, Any] = {"type": "object"}


def is_anthropic(model_id: str) -> bool:
    """Claude on Bedrock: `anthropic.claude-…` and its cross-Region profiles (`us.anthropic.…`)."""
    return "anthropic." in model_id


def is_nova(model_id: str) -> bool:
    return "amazon.nova" in model_id


def build_body(call: UpstreamCall) -> dict[str, Any]:
    """The Converse request body (everything but the modelId, which travels in the path)."""
    request = call.request
    model_id = call.endpoint.upstream_id
    messages = MessageTranslator(is_anthropic(model_id)).conversation(request.messages)
    automatic = cache_point(request.cache)
    if automatic is not None and messages and automatic not in messages[-1]["content"][-1:]:
        # Top-level cache_control (automatic caching): Converse has none, so the breakpoint goes after the
        # prompt's last block, where Anthropic's automatic caching puts it.
        messages[-1]["content"].append(automatic)
    body: dict[str, Any] = {"messages": messages}
    system = system_blocks(request.messages)
    output = _output_config(request.output)
    if request.output is not None and not isinstance(request.output, TextFormat) and output is None:
        system.append({"text": JSON_OBJECT_INSTRUCTION})
    if system:
        body["system"] = system
    inference = _inference_config(request)
    additional = _additional_fields(call, inference)
    if inference:
        body["inferenceConfig"] = inference
    tool_config = _tool_config(request, messages, "structured_outputs" in call.supported_parameters)
    if tool_config:
        body["toolConfig"] = tool_config
    if additional:
        body["additionalModelRequestFields"] = additional
    if output:
        body["outputConfig"] = output
    return body


def _inference_config(request: ChatRequest) -> dict[str, Any]:
    """inferenceConfig: maxTokens, temperature (Converse: 0 to 1, not OpenAI's 0 to 2), topP, stopSequences.

    No maxTokens when the client sets none: Bedrock then applies the model's own default. Seed and the
    penalties have no Converse field; the catalog does not list them for Bedrock, so they never get here.
    """
    config: dict[str, Any] = {}
    sampling = request.sampling
    if request.max_output_tokens is not None:
        config["maxTokens"] = request.max_output_tokens
    if sampling.temperature is not None:
        if sampling.temperature > 1:
            raise bad_request(f"temperature must be between 0 and 1 on amazon-bedrock (got {sampling.temperature}).")
        config["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        config["topP"] = sampling.top_p
    if request.stop:
        config["stopSequences"] = list(request.stop)
    return config


def _additional_fields(call: UpstreamCall, inference: dict[str, Any]) -> dict[str, Any]:
    """Model-specific fields Converse passes through to the model: top_k, and Claude's thinking as the Claude
    profile says it (the same thinking as through Anthropic's API: adaptive from the 4.6 models on)."""
    request, model_id = call.request, call.endpoint.upstream_id
    top_k = request.sampling.top_k
    fields: dict[str, Any] = {}
    if top_k is not None:
        if is_anthropic(model_id):  # Anthropic Messages `top_k`, as Bedrock's Claude request takes it
            fields["top_k"] = top_k
        elif is_nova(model_id):  # Nova: additionalModelRequestFields.inferenceConfig.topK
            fields["inferenceConfig"] = {"topK": top_k}
        # Other families have no documented top_k through Converse: not sent.
    if is_anthropic(model_id) and request.reasoning is not None:
        # Claude's budget must stay below max_tokens: without a client limit, pin maxTokens to what the
        # budget was sized against (the endpoint's output limit, else the profile's default).
        limit = inference.get("maxTokens") or call.endpoint.max_output_tokens or claude.DEFAULT_MAX_TOKENS
        thinking = claude.thinking(request.reasoning, model_id, limit)
        if "thinking" in thinking and thinking["thinking"]["type"] != "disabled":
            inference.setdefault("maxTokens", limit)
        fields.update(thinking)
    if is_anthropic(model_id):
        claude.add_verbosity(fields, request.verbosity, model_id)
    return fields


def _tool_spec(tool: Tool, strict_ok: bool) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {"name": tool.name,
                            "inputSchema": {"json": tool.parameters or {"type": "object", "properties": {}}}}
    if tool.description:  # ToolSpecification.description is a NonEmptyString
        spec["description"] = tool.description
    if tool.strict is not None and strict_ok:
        spec["strict"] = tool.strict
    point = cache_point(tool.cache)
    return [{"toolSpec": spec}, point] if point is not None else [{"toolSpec": spec}]


def _tool_choice(choice: ToolChoice | None) -> dict[str, Any] | None:
    """auto → auto, required → any, a named function → tool (ToolChoice union of the Converse API)."""
    if isinstance(choice, NamedTool):
        return {"tool": {"name": choice.name}}
    return {"auto": {}} if choice == "auto" else {"any": {}} if choice == "required" else None


def _tool_config(request: ChatRequest, messages: list[dict[str, Any]], strict_ok: bool) -> dict[str, Any] | None:
    """toolConfig: the client's tools, or the history's tools when Converse requires a declaration.

    Converse has no `none` tool choice. `tool_choice: "none"` therefore withholds the tools, as Anthropic
    does; when the history holds tool blocks Converse still demands a toolConfig, and then only the tools
    the history already called are declared (permissive schema), so the model is steered away from new
    tools but may still call one of those (the answer then ends in tool_calls).
    """
    if request.tools and request.tool_choice != "none":
        config: dict[str, Any] = {"tools": [block for tool in request.tools for block in _tool_spec(tool, strict_ok)]}
        converse_choice = _tool_choice(request.tool_choice)
        if converse_choice is not None:
            config["toolChoice"] = converse_choice
        return config
    if has_tool_blocks(messages):
        names = history_tool_names(messages)
        if names:
            return {"tools": [{"toolSpec": {"name": name, "inputSchema": {"json": dict(PERMISSIVE_SCHEMA)}}}
                              for name in names]}
    return None


def _output_config(output: OutputFormat | None) -> dict[str, Any] | None:
    """json_schema → native structured output: outputConfig.textFormat with the schema as a JSON *string*
    (JsonSchemaDefinition.schema is a string; see tests/recordings/bedrock/structured-output-*.json)."""
    if not isinstance(output, JsonSchemaFormat) or output.schema is None:
        return None
    definition: dict[str, Any] = {"name": output.name, "schema": json.dumps(output.schema)}
    if output.description:
        definition["description"] = output.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


class BedrockAdapter(BedrockMember):
    # Converse takes image bytes (or s3:// URIs), never http(s) URLs: the service inlines those first.
    needs_image_bytes = True

    def build_request(self, call: UpstreamCall) -> HttpRequest:
        body = json.dumps(build_body(call), ensure_ascii=False, separators=(",", ":")).encode()
        operation = "converse-stream" if call.stream else "converse"
        return self.family.request(call.host, call.endpoint.upstream_id, operation, body,
                                   EVENTSTREAM if call.stream else "application/json")

    def parse_response(self, body: bytes, call: UpstreamCall | None = None) -> list[StreamEvent]:
        return parse_converse(body, host_of(call))

    def stream_decoder(self, call: UpstreamCall | None = None) -> BedrockStreamDecoder:
        return BedrockStreamDecoder(host_of(call))


ADAPTER = BedrockAdapter()
