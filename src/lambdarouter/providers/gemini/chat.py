"""Gemini's wire format: generateContent and streamGenerateContent (https://ai.google.dev/api/generate-content).

This module builds the request body: messages (`messages`), tools and tool choice, generationConfig
(sampling, output limit, structured output, thinking from the Gemini profile). Responses and streams:
`stream`; the URL, credentials and errors are the host's family (`family`: the Gemini API; Vertex AI's
Gemini reuses this adapter with its own), so one adapter serves both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.conversation import ChatRequest, JsonObjectFormat, JsonSchemaFormat, NamedTool
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent
from lambdarouter.profiles import gemini as profile
from lambdarouter.providers.base import HttpRequest, UpstreamCall, host_of, parse_json_body
from lambdarouter.providers.common import clean_json_schema, malformed
from lambdarouter.providers.family import Member
from lambdarouter.providers.gemini.family import FAMILY, GeminiHost
from lambdarouter.providers.gemini.messages import translate_messages
from lambdarouter.providers.gemini.stream import GeminiStreamDecoder, ResponseTranslator

# GenerationConfig limits the API reference documents (https://ai.google.dev/api/generate-content#generationconfig):
# "stopSequences: ... up to 5 character sequences"; `seed` is an int32.
MAX_STOP_SEQUENCES = 5
INT32 = (-(2**31), 2**31 - 1)

# tool_choice → FunctionCallingConfig.mode (https://ai.google.dev/api/caching#FunctionCallingConfig).
TOOL_CHOICE_MODES: Mapping[str, str] = {"auto": "AUTO", "none": "NONE", "required": "ANY"}

def build_body(call: UpstreamCall) -> dict[str, Any]:
    request = call.request
    translated = translate_messages(request.messages, profile.signatures_required(call.endpoint.upstream_id))
    body: dict[str, Any] = {"contents": translated.contents}
    if translated.system:
        body["systemInstruction"] = {"parts": translated.system}
    declarations = _declarations(request)
    history_only = not declarations and bool(translated.called)
    if history_only:
        # Tool history without a `tools` array: declare the functions the history calls (name only) with
        # mode NONE, which "is same as when not passing any function declarations"
        # (FunctionCallingConfig.Mode), so a provider that checks calls against declarations accepts it.
        declarations = [{"name": name} for name in dict.fromkeys(translated.called)]
    if declarations:
        body["tools"] = [{"functionDeclarations": declarations}]
        config = {"mode": "NONE"} if history_only else _function_calling(request, declarations)
        if config:
            body["toolConfig"] = {"functionCallingConfig": config}
    generation = generation_config(call)
    if generation:
        body["generationConfig"] = generation
    return body


def _declarations(request: ChatRequest) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    for function in request.tools:
        declaration: dict[str, Any] = {"name": function.name}
        if function.description is not None:
            declaration["description"] = function.description
        if function.parameters is not None:
            # parametersJsonSchema takes JSON Schema as clients write it (the recording
            # gemini/tool-call-stream-gemini3-thought-signature.json); `parameters` would need a
            # lossy conversion to Gemini's OpenAPI subset (upper-case types, no $ref on older models).
            declaration["parametersJsonSchema"] = clean_json_schema(function.parameters)
        declarations.append(declaration)
    return declarations


def _function_calling(request: ChatRequest, declarations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """tool_choice → functionCallingConfig; only sent with declarations (Gemini 400s a config without them)."""
    choice = request.tool_choice
    if choice is None:
        return None
    if isinstance(choice, NamedTool):
        if choice.name not in {d["name"] for d in declarations}:
            raise GatewayError(400, f"tool_choice names {choice.name!r}, which is not among the tools.")
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": TOOL_CHOICE_MODES[choice]}


# Sampling option → GenerationConfig field; ranges equal OpenAI's, already validated by the dialect.
SAMPLING_FIELDS: Mapping[str, str] = {"temperature": "temperature", "top_p": "topP",
                                      "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}


def generation_config(call: UpstreamCall) -> dict[str, Any]:
    request, sampling = call.request, call.request.sampling
    config: dict[str, Any] = {native: value for option, native in SAMPLING_FIELDS.items()
                              if (value := getattr(sampling, option)) is not None}
    if sampling.top_k:
        config["topK"] = sampling.top_k  # 0 means "off" in OpenRouter's API: Gemini's default, so not sent
    if sampling.seed is not None:
        if not INT32[0] <= sampling.seed <= INT32[1]:
            raise GatewayError(400, f"seed must be a 32-bit integer ({INT32[0]} to {INT32[1]}) for Gemini.")
        config["seed"] = sampling.seed
    if len(request.stop) > MAX_STOP_SEQUENCES:
        raise GatewayError(400, f"stop takes at most {MAX_STOP_SEQUENCES} sequences for Gemini.")
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if request.max_output_tokens is not None:
        config["maxOutputTokens"] = request.max_output_tokens  # absent: the model's own maximum
    if request.modalities:
        # OpenAI's output modalities are Gemini's responseModalities (TEXT, IMAGE, AUDIO).
        config["responseModalities"] = [m.upper() for m in request.modalities]
    config.update(_response_format(request))
    if request.logprobs is not None:
        # https://ai.google.dev/api/generate-content#generationconfig: responseLogprobs, and `logprobs` alternatives
        # per step; the answer's logprobsResult is translated back (gemini/stream.py).
        config["responseLogprobs"] = True
        if request.logprobs:
            config["logprobs"] = request.logprobs
    if request.image_config:
        # OpenRouter's image_config (aspect_ratio, image_size, ...) is Gemini's ImageConfig in camelCase
        # (https://ai.google.dev/api/generate-content#ImageConfig: aspectRatio, imageSize).
        config["imageConfig"] = {_camel(key): value for key, value in request.image_config.items()}
    limit = request.max_output_tokens or call.endpoint.max_output_tokens
    thinking = profile.thinking_config(request.reasoning, call.endpoint.upstream_id, limit)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _response_format(request: ChatRequest) -> dict[str, Any]:
    """Structured output (https://ai.google.dev/gemini-api/docs/structured-output): JSON mode is the
    response MIME type; a schema goes in responseJsonSchema, which takes JSON Schema as is (unlike
    responseSchema's OpenAPI subset, which the recording structured-output-response-schema.json shows
    the Python SDK converting to)."""
    fmt = request.output
    if isinstance(fmt, JsonObjectFormat):
        return {"responseMimeType": "application/json"}
    if isinstance(fmt, JsonSchemaFormat):
        out: dict[str, Any] = {"responseMimeType": "application/json"}
        if fmt.schema is not None:
            out["responseJsonSchema"] = clean_json_schema(fmt.schema)
        return out
    return {}


class GeminiAdapter(Member):
    # fileData only takes Files API / gs:// URIs, so http(s) images must arrive inlined as data: URLs.
    needs_image_bytes = True

    def __init__(self, family: GeminiHost = FAMILY) -> None:
        self.family: GeminiHost = family

    def build_request(self, call: UpstreamCall) -> HttpRequest:
        # alt=sse: one complete JSON object per event (see GeminiStreamDecoder for the other form).
        method = "streamGenerateContent?alt=sse" if call.stream else "generateContent"
        body = json.dumps(build_body(call), separators=(",", ":"), ensure_ascii=False).encode()
        return self.family.model_request(call.host, call.endpoint.upstream_id, method, body)

    def parse_response(self, body: bytes, call: UpstreamCall | None = None) -> list[StreamEvent]:
        provider = host_of(call)
        data = parse_json_body(body)
        if not isinstance(data, dict) or not {"candidates", "promptFeedback", "error"} & data.keys():
            raise malformed("a response without candidates", provider)
        return ResponseTranslator(provider).translate(data)

    def stream_decoder(self, call: UpstreamCall | None = None) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(host_of(call))


ADAPTER = GeminiAdapter()
