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

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent
from lambdarouter.dialects.openrouter.chat import ChatCompletionRequest
from lambdarouter.dialects.openrouter.messages import (
    NamedToolChoice,
    ResponseFormatJSONObject,
    ResponseFormatJSONSchema,
)
from lambdarouter.providers.base import HttpRequest, UpstreamCall, parse_json_body, unsupported_fields
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
    drop = unsupported_fields(request, call.supported_parameters)
    translated = translate_messages(request.messages, signatures_required(call.endpoint.upstream_id))
    body: dict[str, Any] = {"contents": translated.contents}
    if translated.system:
        body["systemInstruction"] = {"parts": translated.system}
    declarations = _declarations(request, drop)
    history_only = not declarations and bool(translated.called)
    if history_only:
        # Tool history without a `tools` array: declare the functions the history calls (name only) with
        # mode NONE, which "is same as when not passing any function declarations"
        # (FunctionCallingConfig.Mode), so a provider that checks calls against declarations accepts it.
        declarations = [{"name": name} for name in dict.fromkeys(translated.called)]
    if declarations:
        body["tools"] = [{"functionDeclarations": declarations}]
        config = {"mode": "NONE"} if history_only else _function_calling(request, drop, declarations)
        if config:
            body["toolConfig"] = {"functionCallingConfig": config}
    generation = generation_config(call, drop)
    if generation:
        body["generationConfig"] = generation
    return body


def _declarations(request: ChatCompletionRequest, drop: set[str]) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    for tool in [] if "tools" in drop else request.tools or ():
        function = tool.function
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


def _function_calling(request: ChatCompletionRequest, drop: set[str],
                      declarations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """tool_choice → functionCallingConfig; only sent with declarations (Gemini 400s a config without them)."""
    choice = None if "tool_choice" in drop else request.tool_choice
    if choice is None:
        return None
    if isinstance(choice, NamedToolChoice):
        if choice.function.name not in {d["name"] for d in declarations}:
            raise GatewayError(400, f"tool_choice names {choice.function.name!r}, which is not among the tools.")
        return {"mode": "ANY", "allowedFunctionNames": [choice.function.name]}
    return {"mode": TOOL_CHOICE_MODES[choice]}


def generation_config(call: UpstreamCall, drop: set[str]) -> dict[str, Any]:
    request = call.request
    config: dict[str, Any] = {}
    sampling = {"temperature": "temperature", "top_p": "topP", "presence_penalty": "presencePenalty",
                "frequency_penalty": "frequencyPenalty"}
    for field, native in sampling.items():
        value = getattr(request, field)
        if value is not None and field not in drop:
            config[native] = value  # ranges equal OpenAI's, already validated by the request schema
    if request.top_k and "top_k" not in drop:
        config["topK"] = request.top_k  # 0 means "off" in OpenRouter's API: Gemini's default, so not sent
    if request.seed is not None and "seed" not in drop:
        if not INT32[0] <= request.seed <= INT32[1]:
            raise GatewayError(400, f"seed must be a 32-bit integer ({INT32[0]} to {INT32[1]}) for Gemini.")
        config["seed"] = request.seed
    if request.stop is not None and "stop" not in drop:
        stops = [request.stop] if isinstance(request.stop, str) else list(request.stop)
        if len(stops) > MAX_STOP_SEQUENCES:
            raise GatewayError(400, f"stop takes at most {MAX_STOP_SEQUENCES} sequences for Gemini.")
        if stops:
            config["stopSequences"] = stops
    limit = request.output_token_limit()
    if limit is not None and not {"max_tokens", "max_completion_tokens"} & drop:
        config["maxOutputTokens"] = limit  # absent: the model's own maximum (65536 on 2.5 models)
    if request.modalities:
        # OpenAI's output modalities are Gemini's responseModalities (TEXT, IMAGE, AUDIO).
        config["responseModalities"] = [m.upper() for m in request.modalities]
    config.update(_response_format(request, drop))
    thinking = thinking_config(call)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _response_format(request: ChatCompletionRequest, drop: set[str]) -> dict[str, Any]:
    """Structured output (https://ai.google.dev/gemini-api/docs/structured-output): JSON mode is the
    response MIME type; a schema goes in responseJsonSchema, which takes JSON Schema as is (unlike
    responseSchema's OpenAPI subset, which the recording structured-output-response-schema.json shows
    the Python SDK converting to)."""
    fmt = None if "response_format" in drop else request.response_format
    if isinstance(fmt, ResponseFormatJSONObject):
        return {"responseMimeType": "application/json"}
    if isinstance(fmt, ResponseFormatJSONSchema):
        out: dict[str, Any] = {"responseMimeType": "application/json"}
        if fmt.json_schema.schema_ is not None:
            out["responseJsonSchema"] = clean_json_schema(fmt.json_schema.schema_)
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
    if "reasoning" not in call.supported_parameters:
        return None
    reasoning = request.reasoning
    effort = (reasoning.effort if reasoning else None) or request.reasoning_effort
    if reasoning is None and effort is None:
        return None
    budget = reasoning.max_tokens if reasoning else None
    if reasoning is not None and reasoning.enabled is False and budget is None and effort is None:
        return {"thinkingBudget": 0}
    config: dict[str, Any] = {}
    if budget is not None:
        config["thinkingBudget"] = budget
    elif effort is not None and BUDGET_MODELS.match(call.endpoint.upstream_id):
        base = request.output_token_limit() or call.endpoint.max_output_tokens or DEFAULT_OUTPUT_LIMIT
        low, high = EFFORT_BUDGET_BOUNDS
        config["thinkingBudget"] = max(min(int(base * EFFORT_RATIOS[effort]), high), low)
    elif effort is not None:
        config["thinkingLevel"] = effort.upper()  # the ThinkingLevel enum's names: MINIMAL, LOW, MEDIUM, HIGH
    if not (reasoning and reasoning.exclude):
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
