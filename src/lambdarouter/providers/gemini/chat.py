"""Google Gemini API wire format: generateContent and streamGenerateContent (host `google-ai-studio`).

Reference: https://ai.google.dev/api/generate-content. `POST {base}/v1beta/models/{model}:generateContent`,
or `:streamGenerateContent?alt=sse` for a stream; the key goes in the `x-goog-api-key` header, never in the
URL (`?key=` would put it in every access log and error message that prints URLs).

This module builds the request body: messages (gemini_messages), tools and tool choice, generationConfig
(sampling, output limit, structured output, thinking). Responses and streams: gemini_stream; errors:
gemini_errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from lambdarouter.core.conversation import ChatRequest, JsonObjectFormat, JsonSchemaFormat, NamedTool
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent
from lambdarouter.providers.base import HttpRequest, UpstreamCall, parse_json_body
from lambdarouter.providers.common import clean_json_schema
from lambdarouter.providers.gemini.errors import map_error
from lambdarouter.providers.gemini.messages import translate_messages
from lambdarouter.providers.gemini.stream import GeminiStreamDecoder, ResponseTranslator, malformed

# GenerationConfig limits the API reference documents (https://ai.google.dev/api/generate-content#generationconfig):
# "stopSequences: ... up to 5 character sequences"; `seed` is an int32.
MAX_STOP_SEQUENCES = 5
INT32 = (-(2**31), 2**31 - 1)

# tool_choice → FunctionCallingConfig.mode (https://ai.google.dev/api/caching#FunctionCallingConfig).
TOOL_CHOICE_MODES: Mapping[str, str] = {"auto": "AUTO", "none": "NONE", "required": "ANY"}

# Gemini 2.x (and older) size thinking with a token budget; Gemini 3 and later with a level, taking the
# same minimal/low/medium/high names as OpenAI's reasoning effort
# (https://ai.google.dev/gemini-api/docs/thinking#thinking-levels). Aliases such as gemini-flash-latest
# point at the current (3.x) models.
BUDGET_MODELS = re.compile(r"^(models/)?gemini-[12](\.|-|$)")

# reasoning.effort → share of the output limit spent thinking on budget models: OpenRouter's ratios
# (https://openrouter.ai/docs/use-cases/reasoning-tokens#reasoning-effort-level), bounded like OpenRouter's
# `max(min(max_tokens * ratio, cap), 1024)` with Gemini 2.5 Flash's largest budget, 24576, as the cap
# (2.5 Pro allows 32768; 24576 fits every 2.5 model).
EFFORT_RATIOS: Mapping[str, float] = {"minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8}
EFFORT_BUDGET_BOUNDS = (1024, 24576)
# Gemini's own default output limit when the request sets none (the 2.5 models' maxOutputTokens).
DEFAULT_OUTPUT_LIMIT = 65536


def signatures_required(upstream_id: str) -> bool:
    """Gemini 3 and later reject a function call in history without its thought signature."""
    return BUDGET_MODELS.match(upstream_id) is None


def build_body(call: UpstreamCall) -> dict[str, Any]:
    request = call.request
    translated = translate_messages(request.messages, signatures_required(call.endpoint.upstream_id))
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
    thinking = thinking_config(call)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


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


def thinking_config(call: UpstreamCall) -> dict[str, Any] | None:
    """`reasoning` / `reasoning_effort` → ThinkingConfig (https://ai.google.dev/gemini-api/docs/thinking).

    - reasoning.max_tokens → thinkingBudget (Gemini 3 still accepts budgets);
    - effort → thinkingLevel on Gemini 3+, a budget of EFFORT_RATIOS x the output limit on Gemini 2.x;
    - enabled: false → thinkingBudget 0 (off where the model allows it; others answer 400);
    - includeThoughts unless reasoning.exclude: Gemini returns thought summaries only when asked. Without
      any reasoning field nothing is sent: the model thinks by its default and returns no thoughts.
    """
    request = call.request
    reasoning = request.reasoning
    if reasoning is None:
        return None
    effort, budget = reasoning.effort, reasoning.budget_tokens
    if reasoning.enabled is False and budget is None and effort is None:
        return {"thinkingBudget": 0}
    config: dict[str, Any] = {}
    if budget is not None:
        config["thinkingBudget"] = budget
    elif effort is not None and BUDGET_MODELS.match(call.endpoint.upstream_id):
        base = request.max_output_tokens or call.endpoint.max_output_tokens or DEFAULT_OUTPUT_LIMIT
        low, high = EFFORT_BUDGET_BOUNDS
        config["thinkingBudget"] = max(min(int(base * EFFORT_RATIOS[effort]), high), low)
    elif effort is not None:
        config["thinkingLevel"] = effort.upper()  # the ThinkingLevel enum's names: MINIMAL, LOW, MEDIUM, HIGH
    if not reasoning.exclude:
        config["includeThoughts"] = True
    return config


def model_path(upstream_id: str) -> str:
    return quote(upstream_id.removeprefix("models/"), safe="-._~")


class GeminiAdapter:
    # fileData only takes Files API / gs:// URIs, so http(s) images must arrive inlined as data: URLs.
    needs_image_bytes = True

    def build_request(self, call: UpstreamCall) -> HttpRequest:
        model = model_path(call.endpoint.upstream_id)
        # alt=sse: one complete JSON object per event (see GeminiStreamDecoder for the other form).
        method = "streamGenerateContent?alt=sse" if call.stream else "generateContent"
        headers = {"content-type": "application/json", **call.host.spec.headers}
        if call.host.api_key:
            headers["x-goog-api-key"] = call.host.api_key
        body = json.dumps(build_body(call), separators=(",", ":"), ensure_ascii=False).encode()
        return HttpRequest("POST", f"{call.host.base_url}/v1beta/models/{model}:{method}", headers, body)

    def parse_response(self, body: bytes) -> list[StreamEvent]:
        data = parse_json_body(body)
        if not isinstance(data, dict) or not {"candidates", "promptFeedback", "error"} & data.keys():
            raise malformed("a response without candidates")
        return ResponseTranslator().translate(data)

    def stream_decoder(self) -> GeminiStreamDecoder:
        return GeminiStreamDecoder()

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        return map_error(status, headers, body, provider)
