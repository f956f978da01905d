"""Shared fixtures for the Bedrock tests: the client requests behind each recording, the normalisation the
recorded bodies get before comparison, request validation with botocore's own service model, SigV4
verification, and hand-built event-stream frames.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.validate import ParamValidator

from tests.fakes.recordings import Recording
from tests.fakes.upstream import ReceivedRequest

ACCESS_KEY = "AKIDTESTGATEWAY"  # tests/gateway.py gives the gateway process these AWS credentials
SECRET_KEY = "aws-secret-for-tests"
REGION = "us-east-1"
BEDROCK_ONLY = {"provider": {"only": ["amazon-bedrock"]}}

# The catalog model (tests/data/extra-models.toml or the bundled catalog) whose amazon-bedrock endpoint has
# each recorded upstream id.
CATALOG_IDS = {
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": "anthropic/claude-sonnet-4.5",
    "us.anthropic.claude-sonnet-4-6": "anthropic/claude-sonnet-4.6",
    "us.anthropic.claude-sonnet-4-20250514-v1:0": "anthropic/claude-sonnet-4",
    "us.amazon.nova-micro-v1:0": "amazon/nova-micro",
    "anthropic.claude-3-sonnet-20240229-v1:0": "anthropic/claude-3-sonnet-20240229",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0": "anthropic/claude-3.7-sonnet-20250219",
}


def upstream_model(rec: Recording) -> str:
    return rec.endpoint.split("/")[2]


def _tool(name: str, description: str | None, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "parameters": parameters}
    if description:
        function["description"] = description
    return {"type": "function", "function": function, **extra}


def _query_schema() -> dict[str, Any]:
    return {"properties": {"query": {"description": "Search query", "title": "Query", "type": "string"}},
            "required": ["query"], "type": "object", "additionalProperties": False}


def _parallel_tools() -> list[dict[str, Any]]:
    return [_tool(f"parallel_local_search_{n}", f"Local search tool #{i} for concurrency testing.", _query_schema())
            for i, n in enumerate(("one", "two", "three"), start=1)]


def _text(rec: Recording, message: int = 0, block: int = 0) -> str:
    text: str = rec.request["messages"][message]["content"][block]["text"]
    return text


def _image_bytes(rec: Recording) -> str:
    data: str = rec.request["messages"][0]["content"][1]["image"]["source"]["bytes"]
    return data


def _system(rec: Recording) -> str:
    text: str = rec.request["system"][0]["text"]
    return text


CITY_SCHEMA = {"additionalProperties": False, "properties": {"city": {"type": "string"},
               "country": {"type": "string"}, "population": {"type": "integer"}},
               "required": ["city", "country", "population"], "type": "object"}


def _structured(rec: Recording) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": _text(rec)}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "CityInfo", "description": "Information about a city.", "schema": CITY_SCHEMA}}}


def _cache(rec: Recording) -> dict[str, Any]:
    document = rec.request["messages"][0]["content"][1]["document"]
    empty = {"additionalProperties": False, "properties": {}, "type": "object"}
    return {
        "messages": [
            {"role": "system",
             "content": [{"type": "text", "text": _system(rec), "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": _text(rec)},
                {"type": "file", "file": {"filename": document["name"],
                                          "file_data": f"data:text/plain;base64,{document['source']['bytes']}"}},
                {"type": "text", "text": "\n", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "What is 10 + 11?", "cache_control": {"type": "ephemeral"}},
            ]},
        ],
        "tools": [_tool("catalog_lookup", None, empty),
                  _tool("diagnostics", None, empty, cache_control={"type": "ephemeral"})],
        "tool_choice": "auto",
    }


def _followup(rec: Recording) -> dict[str, Any]:
    uses = [b["toolUse"] for b in rec.request["messages"][1]["content"]]
    results = [b["toolResult"] for b in rec.request["messages"][2]["content"]]
    return {
        "messages": [
            {"role": "system", "content": _system(rec)},
            {"role": "user", "content": _text(rec)},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": u["toolUseId"], "type": "function",
                 "function": {"name": u["name"], "arguments": json.dumps(u["input"])}} for u in uses]},
            *({"role": "tool", "tool_call_id": r["toolUseId"], "content": r["content"][0]["text"]} for r in results),
        ],
        "stop": ["\nObservation:"],
        "tools": _parallel_tools(),
    }


# The OpenAI-format request a client sends for each recorded success, written from its native request.
CLIENT_REQUESTS: dict[str, Callable[[Recording], dict[str, Any]]] = {
    "bedrock/text-basic": lambda rec: {
        "messages": [{"role": "system", "content": _system(rec)}, {"role": "user", "content": _text(rec)}],
        "temperature": 0.0},
    "bedrock/text-basic-nova": lambda rec: {
        "messages": [{"role": "system", "content": _system(rec)}, {"role": "user", "content": _text(rec)}]},
    "bedrock/text-stream": lambda rec: {
        "messages": [{"role": "system", "content": _system(rec)}, {"role": "user", "content": _text(rec)}],
        "temperature": 0.0, "stream": True},
    "bedrock/image-input-base64": lambda rec: {
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": _text(rec)},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + _image_bytes(rec)}},
        ]}]},
    "bedrock/structured-output-json-schema": _structured,
    "bedrock/structured-output-json-schema-stream": lambda rec: {**_structured(rec), "stream": True},
    "bedrock/thinking": lambda rec: {
        "messages": [{"role": "user", "content": _text(rec)}], "reasoning": {"max_tokens": 1024}},
    "bedrock/thinking-stream": lambda rec: {
        "messages": [{"role": "user", "content": _text(rec)}], "reasoning": {"max_tokens": 1024}, "stream": True},
    "bedrock/tool-call-parallel": lambda rec: {
        "messages": [{"role": "system", "content": _system(rec)}, {"role": "user", "content": _text(rec)}],
        "stop": ["\nObservation:"], "tools": _parallel_tools()},
    "bedrock/tool-call-stream": lambda rec: {
        "messages": [{"role": "system", "content": _system(rec)}, {"role": "user", "content": _text(rec)}],
        "temperature": 0.7, "top_p": 0.9, "max_tokens": 1000, "stop": [], "stream": True,
        "tools": [_tool("fetch_concept", "Fetch an expert explanation for a concept", {
            "type": "object", "properties": {"concept": {"type": "string", "description": "The concept to explain"}},
            "required": ["concept"]})]},
    "bedrock/tool-call-stream-nova": lambda rec: {
        "messages": [{"role": "system", "content": _system(rec)}, {"role": "user", "content": _text(rec)}],
        "top_p": 0.5, "stream": True,
        "tools": [_tool("get_capital", "Get the capital of a country.", {
                      "properties": {"country": {"description": "The country name.", "title": "Country",
                                                 "type": "string"}},
                      "required": ["country"], "type": "object", "additionalProperties": False}),
                  _tool("get_temperature", "Get the temperature in a city.", {
                      "properties": {"city": {"description": "The city name.", "title": "City", "type": "string"}},
                      "required": ["city"], "type": "object", "additionalProperties": False})]},
    "bedrock/tool-result-followup": _followup,
    "bedrock/usage-cache-read": _cache,
    "bedrock/usage-cache-write": _cache,
    "bedrock/usage-cache-read-stream": lambda rec: {
        "messages": [{"role": "system", "content": [
                         {"type": "text", "text": _system(rec), "cache_control": {"type": "ephemeral"}}]},
                     {"role": "user", "content": _text(rec)}],
        "temperature": 0.7, "top_p": 0.9, "max_tokens": 1000, "stop": [], "stream": True},
}


def client_request(rec: Recording) -> dict[str, Any]:
    """The recording's client request as `chat.completions.create` kwargs: the catalog model, and the
    OpenRouter fields the SDK does not know (`reasoning`, `provider`: Bedrock only) in `extra_body`."""
    request = {"model": CATALOG_IDS[upstream_model(rec)], **CLIENT_REQUESTS[rec.name](rec)}
    extra = {**BEDROCK_ONLY, **({"reasoning": request.pop("reasoning")} if "reasoning" in request else {})}
    return {**request, "extra_body": extra}


def normalized(body: dict[str, Any], max_tokens_pinned: int | None = None) -> dict[str, Any]:
    """A Converse body in the form both sides are compared in. The documented differences:

    * empty top-level fields and an empty `inferenceConfig.stopSequences` (the recording clients always
      send `system: []`, `inferenceConfig: {}`, `stopSequences: []`; the gateway leaves empty fields out);
    * `outputConfig...jsonSchema.schema` is a JSON string: compared parsed (key order, spacing);
    * `max_tokens_pinned`: with thinking on and no client limit, the gateway pins `maxTokens` to the
      endpoint's output limit so the budget fits (the recording client left Bedrock's default).
    """
    out = json.loads(json.dumps(body))
    inference = out.get("inferenceConfig")
    if isinstance(inference, dict) and inference.get("stopSequences") == []:
        del inference["stopSequences"]
    if max_tokens_pinned is not None:
        out.setdefault("inferenceConfig", {})["maxTokens"] = max_tokens_pinned
    definition = out.get("outputConfig", {}).get("textFormat", {}).get("structure", {}).get("jsonSchema")
    if definition:
        definition["schema"] = json.loads(definition["schema"])
    return {key: value for key, value in out.items() if value not in ({}, [])}


# --- botocore's service model: what the gateway sends must be a valid Converse input --------------------

_SERVICE = botocore.session.get_session().get_service_model("bedrock-runtime")


def _blobs_to_bytes(value: Any, shape: Any) -> Any:
    """JSON-wire base64 strings back to bytes wherever the shape is a blob (what boto3 callers pass)."""
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value, validate=True)
    if shape.type_name == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        return {k: _blobs_to_bytes(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_blobs_to_bytes(item, shape.member) for item in value]
    return value


def validate_converse(body: dict[str, Any], model_id: str, stream: bool) -> None:
    """Raises if `body` is not a valid Converse / ConverseStream input per botocore's service model."""
    shape = _SERVICE.operation_model("ConverseStream" if stream else "Converse").input_shape
    params = _blobs_to_bytes({**body, "modelId": model_id}, shape)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise AssertionError(report.generate_report())


# --- SigV4 -----------------------------------------------------------------------------------------------

def verify_sigv4(received: ReceivedRequest, base_url: str) -> None:
    """Recompute the signature from what the fake upstream received (method, raw path, signed headers,
    body, X-Amz-Date) with botocore, and compare it with the Authorization header."""
    authorization = received.headers["authorization"]
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "AWS4-HMAC-SHA256"
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    assert fields["Credential"].startswith(f"{ACCESS_KEY}/")
    assert fields["Credential"].endswith(f"/{REGION}/bedrock/aws4_request")
    signed = fields["SignedHeaders"].split(";")
    assert {"host", "x-amz-date", "content-type"} <= set(signed)
    url = f"{base_url}{received.raw_path}" + (f"?{received.query}" if received.query else "")
    assert urlsplit(url).netloc == received.headers["host"]
    headers = {name: received.headers[name] for name in signed}
    request = AWSRequest(method=received.method, url=url, headers=headers, data=received.body)
    request.context["timestamp"] = received.headers["x-amz-date"]
    signer = SigV4Auth(ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None), "bedrock", REGION)
    assert signer.signed_headers(signer.headers_to_sign(request)) == fields["SignedHeaders"]
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert fields["Signature"] == expected, "SigV4 signature does not verify"


# --- event-stream frames (synthesized: no recording has an exception frame) -----------------------------

def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack(">B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message built by hand: total length, headers length, prelude CRC32, string
    headers (type 7), payload, message CRC32 over everything before it (the format botocore parses)."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    return frame({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
                 json.dumps({**payload, "p": "abcdefgh"}, ensure_ascii=False).encode())


def exception(exception_type: str, message: str) -> bytes:
    return frame({":exception-type": exception_type, ":content-type": "application/json",
                  ":message-type": "exception"}, json.dumps({"message": message}, ensure_ascii=False).encode())


def text_stream(*texts: str, stop: str = "end_turn", usage: dict[str, int] | None = None) -> list[bytes]:
    frames = [event("messageStart", {"role": "assistant"})]
    frames += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": t}}) for t in texts]
    frames += [event("contentBlockStop", {"contentBlockIndex": 0}), event("messageStop", {"stopReason": stop}),
               event("metadata", {"usage": usage or {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12},
                                  "metrics": {"latencyMs": 10}})]
    return frames


def parallel_tool_stream() -> list[bytes]:
    """A ConverseStream answer with text and two tool calls (synthesized: only single-call streams were
    recorded), each call's input split into fragments as Bedrock streams them."""
    frames = [event("messageStart", {"role": "assistant"}),
              event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Checking both."}}),
              event("contentBlockStop", {"contentBlockIndex": 0})]
    for block, (call_id, city) in enumerate((("tooluse_paris", "Paris"), ("tooluse_rome", "Rome")), start=1):
        frames.append(event("contentBlockStart", {"contentBlockIndex": block, "start": {
            "toolUse": {"toolUseId": call_id, "name": "get_weather"}}}))
        for fragment in ('{"ci', f'ty": "{city}"', "}"):
            frames.append(event("contentBlockDelta", {"contentBlockIndex": block,
                                                      "delta": {"toolUse": {"input": fragment}}}))
        frames.append(event("contentBlockStop", {"contentBlockIndex": block}))
    frames += [event("messageStop", {"stopReason": "tool_use"}),
               event("metadata", {"usage": {"inputTokens": 50, "outputTokens": 30, "totalTokens": 80},
                                  "metrics": {"latencyMs": 10}})]
    return frames
