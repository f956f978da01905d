"""The table of tests/test_request_fields.py: every request field OpenRouter documents for /chat/completions (its
OpenAPI document's `ChatRequest` and its parameter guide), each enum value, and where it lands in each wire
format's upstream request, or the 400 / filter that answers it instead. docs/request-fields.md says why.

A row is (name, body fragment, expectation per wire format). Expectations: `At(path, value)` the field lands at
`path` of the upstream JSON body with that value; `Gone(path)` nothing lands there (the provider lacks the
feature: ignored, as OpenRouter ignores it); `No(status, text)` the gateway answers that status, its message
containing `text`, and nothing goes upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMATS = ("openai", "anthropic", "gemini", "bedrock")
MODELS = {f: f"fields/{f}" for f in FORMATS}
DISPLAY = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Google AI Studio", "bedrock": "Amazon Bedrock"}
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class At:
    path: Path
    value: Any


@dataclass(frozen=True)
class Gone:
    path: Path


@dataclass(frozen=True)
class No:
    status: int
    text: str


Expect = At | Gone | No | tuple[At | Gone, ...]
Row = tuple[str, dict[str, Any], dict[str, Expect]]

GEN = "generationConfig"
EXTRA = "additionalModelRequestFields"
INFERENCE = "inferenceConfig"
PIXEL = ("data:image/png;base64,"
         "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
TOOL = {"type": "function", "function": {"name": "lookup", "description": "Look a word up.",
                                         "parameters": {"type": "object", "properties": {"w": {"type": "string"}}}}}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False}


def each(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(FORMATS, expect)


def only_openai(path: Path, value: Any) -> dict[str, Expect]:
    return {"openai": At(path, value), "anthropic": Gone(path), "gemini": Gone(path), "bedrock": Gone(path)}


def _effort_rows() -> list[Row]:
    # Gemini 2.5 Flash sizes thinking by budget: the one effort table's share of its 65536-token output limit,
    # within its 24576 ceiling; Claude Sonnet 4.6 thinks adaptively, taking low/medium/high (xhigh and max are
    # Opus levels, asked as high). OpenAI has no "max": its nearest, xhigh.
    budgets = {"minimal": 6553, "low": 13107, "medium": 24576, "high": 24576, "xhigh": 24576, "max": 24576}
    rows: list[Row] = [("reasoning.effort none", {"reasoning": {"effort": "none"}}, {
        "openai": At(("reasoning_effort",), "none"), "anthropic": At(("thinking",), {"type": "disabled"}),
        "gemini": At((GEN, "thinkingConfig"), {"thinkingBudget": 0}),
        "bedrock": At((EXTRA, "thinking"), {"type": "disabled"})})]
    for effort, budget in budgets.items():
        claude = {"minimal": "low", "xhigh": "high", "max": "high"}.get(effort, effort)
        rows.append((f"reasoning.effort {effort}", {"reasoning": {"effort": effort}}, {
            "openai": At(("reasoning_effort",), "xhigh" if effort == "max" else effort),
            "anthropic": (At(("thinking",), {"type": "adaptive"}), At(("output_config", "effort"), claude)),
            "gemini": At((GEN, "thinkingConfig"), {"thinkingBudget": budget, "includeThoughts": True}),
            "bedrock": (At((EXTRA, "thinking"), {"type": "adaptive"}), At((EXTRA, "output_config", "effort"), claude)),
        }))
    return rows


def _verbosity_rows() -> list[Row]:
    rows: list[Row] = []
    for level in ("low", "medium", "high", "xhigh", "max"):
        nearest = "high" if level in ("xhigh", "max") else level
        rows.append((f"verbosity {level}", {"verbosity": level}, {
            "openai": At(("verbosity",), nearest), "anthropic": At(("output_config", "effort"), nearest),
            "gemini": Gone((GEN, "verbosity")), "bedrock": At((EXTRA, "output_config", "effort"), nearest)}))
    return rows


SAMPLING: list[Row] = [
    ("temperature", {"temperature": 0.5}, {
        "openai": At(("temperature",), 0.5), "anthropic": At(("temperature",), 0.5),
        "gemini": At((GEN, "temperature"), 0.5), "bedrock": At((INFERENCE, "temperature"), 0.5)}),
    ("top_p", {"top_p": 0.9}, {"openai": At(("top_p",), 0.9), "anthropic": At(("top_p",), 0.9),
                               "gemini": At((GEN, "topP"), 0.9), "bedrock": At((INFERENCE, "topP"), 0.9)}),
    ("top_k", {"top_k": 40}, {"openai": Gone(("top_k",)), "anthropic": At(("top_k",), 40),
                              "gemini": At((GEN, "topK"), 40), "bedrock": At((EXTRA, "top_k"), 40)}),
    ("frequency_penalty", {"frequency_penalty": 0.5}, {
        "openai": At(("frequency_penalty",), 0.5), "anthropic": Gone(("frequency_penalty",)),
        "gemini": At((GEN, "frequencyPenalty"), 0.5), "bedrock": Gone((INFERENCE, "frequencyPenalty"))}),
    ("presence_penalty", {"presence_penalty": -0.5}, {
        "openai": At(("presence_penalty",), -0.5), "anthropic": Gone(("presence_penalty",)),
        "gemini": At((GEN, "presencePenalty"), -0.5), "bedrock": Gone((INFERENCE, "presencePenalty"))}),
    ("repetition_penalty", {"repetition_penalty": 1.1}, each(Gone(("repetition_penalty",)))),
    ("min_p", {"min_p": 0.1}, each(Gone(("min_p",)))),
    ("top_a", {"top_a": 0.1}, each(Gone(("top_a",)))),
    ("seed", {"seed": 7}, {"openai": At(("seed",), 7), "anthropic": Gone(("seed",)),
                           "gemini": At((GEN, "seed"), 7), "bedrock": Gone((INFERENCE, "seed"))}),
    ("max_tokens", {"max_tokens": 100}, {
        "openai": At(("max_completion_tokens",), 100), "anthropic": At(("max_tokens",), 100),
        "gemini": At((GEN, "maxOutputTokens"), 100), "bedrock": At((INFERENCE, "maxTokens"), 100)}),
    ("max_completion_tokens", {"max_completion_tokens": 90}, {
        "openai": At(("max_completion_tokens",), 90), "anthropic": At(("max_tokens",), 90),
        "gemini": At((GEN, "maxOutputTokens"), 90), "bedrock": At((INFERENCE, "maxTokens"), 90)}),
    ("stop as a string", {"stop": "END"}, {
        "openai": At(("stop",), ["END"]), "anthropic": At(("stop_sequences",), ["END"]),
        "gemini": At((GEN, "stopSequences"), ["END"]), "bedrock": At((INFERENCE, "stopSequences"), ["END"])}),
    ("stop as an array", {"stop": ["END", "STOP"]}, {
        "openai": At(("stop",), ["END", "STOP"]), "anthropic": At(("stop_sequences",), ["END", "STOP"]),
        "gemini": At((GEN, "stopSequences"), ["END", "STOP"]),
        "bedrock": At((INFERENCE, "stopSequences"), ["END", "STOP"])}),
    ("logit_bias", {"logit_bias": {"50256": -100}}, only_openai(("logit_bias",), {"50256": -100})),
    ("logprobs", {"logprobs": True}, {
        "openai": (At(("logprobs",), True), Gone(("top_logprobs",))), "anthropic": Gone(("logprobs",)),
        "gemini": (At((GEN, "responseLogprobs"), True), Gone((GEN, "logprobs"))), "bedrock": Gone(("logprobs",))}),
    ("logprobs with top_logprobs", {"logprobs": True, "top_logprobs": 2}, {
        "openai": (At(("logprobs",), True), At(("top_logprobs",), 2)), "anthropic": Gone(("logprobs",)),
        "gemini": (At((GEN, "responseLogprobs"), True), At((GEN, "logprobs"), 2)), "bedrock": Gone(("logprobs",))}),
    ("top_logprobs without logprobs", {"top_logprobs": 2}, each(No(400, "top_logprobs needs logprobs: true"))),
    ("n 1", {"n": 1}, each(Gone(("n",)))),
    ("n above 1", {"n": 2}, each(No(400, "n above 1 is not offered"))),
]

OUTPUT: list[Row] = [
    ("response_format text", {"response_format": {"type": "text"}},
     only_openai(("response_format",), {"type": "text"})),
    ("response_format json_object", {"response_format": {"type": "json_object"}}, {
        "openai": At(("response_format",), {"type": "json_object"}), "anthropic": Gone(("output_config",)),
        "gemini": At((GEN, "responseMimeType"), "application/json"),
        "bedrock": At(("system", -1, "text"), "Respond with a single valid JSON object and nothing else: no prose, "
                                              "no code fences.")}),
    ("response_format json_schema", {"response_format": {"type": "json_schema", "json_schema": {
        "name": "answer", "strict": True, "schema": SCHEMA}}}, {
        "openai": At(("response_format", "json_schema", "schema"), SCHEMA),
        "anthropic": At(("output_config", "format"), {"type": "json_schema", "schema": SCHEMA}),
        "gemini": At((GEN, "responseJsonSchema"), SCHEMA),
        "bedrock": At(("outputConfig", "textFormat", "structure", "jsonSchema", "name"), "answer")}),
    ("response_format grammar", {"response_format": {"type": "grammar", "grammar": "root ::= \"yes\""}}, {
        "openai": At(("response_format",), {"type": "grammar", "grammar": "root ::= \"yes\""}),
        "anthropic": No(404, "has no grammar response format"), "gemini": No(404, "has no grammar response format"),
        "bedrock": No(404, "has no grammar response format")}),
    ("response_format python", {"response_format": {"type": "python"}}, {
        "openai": At(("response_format",), {"type": "python"}), "anthropic": No(404, "has no python response format"),
        "gemini": No(404, "has no python response format"), "bedrock": No(404, "has no python response format")}),
    ("modalities text", {"modalities": ["text"]}, {
        "openai": At(("modalities",), ["text"]), "anthropic": Gone(("modalities",)),
        "gemini": At((GEN, "responseModalities"), ["TEXT"]), "bedrock": Gone(("modalities",))}),
    ("modalities image and text", {"modalities": ["image", "text"]}, each(No(400, "cannot be served"))),
    ("image_config", {"image_config": {"aspect_ratio": "16:9", "image_size": "2K"}}, {
        "openai": Gone(("image_config",)), "anthropic": Gone(("image_config",)),
        "gemini": At((GEN, "imageConfig"), {"aspectRatio": "16:9", "imageSize": "2K"}),
        "bedrock": Gone(("image_config",))}),
    ("prediction", {"prediction": {"type": "content", "content": "Hello"}},
     only_openai(("prediction",), {"type": "content", "content": "Hello"})),
    ("web_search_options", {"web_search_options": {"search_context_size": "low"}},
     only_openai(("web_search_options",), {"search_context_size": "low"})),
    *_verbosity_rows(),
]

TOOLS: list[Row] = [
    ("tools", {"tools": [TOOL]}, {
        "openai": At(("tools", 0, "function", "name"), "lookup"), "anthropic": At(("tools", 0, "name"), "lookup"),
        "gemini": At(("tools", 0, "functionDeclarations", 0, "name"), "lookup"),
        "bedrock": At(("toolConfig", "tools", 0, "toolSpec", "name"), "lookup")}),
    ("tool_choice auto", {"tools": [TOOL], "tool_choice": "auto"}, {
        "openai": At(("tool_choice",), "auto"), "anthropic": At(("tool_choice",), {"type": "auto"}),
        "gemini": At(("toolConfig", "functionCallingConfig"), {"mode": "AUTO"}),
        "bedrock": At(("toolConfig", "toolChoice"), {"auto": {}})}),
    ("tool_choice required", {"tools": [TOOL], "tool_choice": "required"}, {
        "openai": At(("tool_choice",), "required"), "anthropic": At(("tool_choice",), {"type": "any"}),
        "gemini": At(("toolConfig", "functionCallingConfig"), {"mode": "ANY"}),
        "bedrock": At(("toolConfig", "toolChoice"), {"any": {}})}),
    ("tool_choice none", {"tools": [TOOL], "tool_choice": "none"}, {
        "openai": At(("tool_choice",), "none"), "anthropic": At(("tool_choice",), {"type": "none"}),
        "gemini": At(("toolConfig", "functionCallingConfig"), {"mode": "NONE"}), "bedrock": Gone(("toolConfig",))}),
    ("tool_choice a named function", {"tools": [TOOL], "tool_choice": {"type": "function",
                                                                       "function": {"name": "lookup"}}}, {
        "openai": At(("tool_choice", "function", "name"), "lookup"),
        "anthropic": At(("tool_choice",), {"type": "tool", "name": "lookup"}),
        "gemini": At(("toolConfig", "functionCallingConfig"), {"mode": "ANY", "allowedFunctionNames": ["lookup"]}),
        "bedrock": At(("toolConfig", "toolChoice"), {"tool": {"name": "lookup"}})}),
    ("parallel_tool_calls false", {"tools": [TOOL], "parallel_tool_calls": False}, {
        "openai": At(("parallel_tool_calls",), False),
        "anthropic": At(("tool_choice",), {"type": "auto", "disable_parallel_tool_use": True}),
        "gemini": Gone(("parallel_tool_calls",)), "bedrock": Gone(("toolConfig", "toolChoice"))}),
    ("a server tool", {"tools": [{"type": "openrouter:web_search"}]},
     each(No(400, "The server tool openrouter:web_search is not offered"))),
    ("the web_search shorthand tool", {"tools": [{"type": "web_search", "max_results": 3}]},
     each(No(400, "The server tool web_search is not offered"))),
    ("openrouter:datetime", {"tools": [{"type": "openrouter:datetime", "parameters": {"timezone": "UTC"}}]},
     each(No(400, "The server tool openrouter:datetime is not offered"))),
    ("tool_choice a server tool", {"tools": [TOOL], "tool_choice": {"type": "openrouter:web_search"}},
     each(No(400, "The server tool openrouter:web_search is not offered"))),
]

REASONING: list[Row] = [
    *_effort_rows(),
    ("reasoning_effort", {"reasoning_effort": "low"}, {
        "openai": At(("reasoning_effort",), "low"), "anthropic": At(("output_config", "effort"), "low"),
        "gemini": At((GEN, "thinkingConfig", "thinkingBudget"), 13107),
        "bedrock": At((EXTRA, "output_config", "effort"), "low")}),
    ("reasoning_effort differing from reasoning.effort", {"reasoning_effort": "low", "reasoning": {"effort": "high"}},
     each(No(400, "reasoning_effort (low) and reasoning.effort (high) differ"))),
    ("reasoning.max_tokens", {"reasoning": {"max_tokens": 2048}}, {
        # an effort-only model gets the effort nearest the budget's share of the output (profiles/openai.py)
        "openai": At(("reasoning_effort",), "minimal"),
        "anthropic": At(("thinking",), {"type": "enabled", "budget_tokens": 2048}),
        "gemini": At((GEN, "thinkingConfig"), {"thinkingBudget": 2048, "includeThoughts": True}),
        "bedrock": At((EXTRA, "thinking"), {"type": "enabled", "budget_tokens": 2048})}),
    ("reasoning effort and max_tokens", {"reasoning": {"effort": "high", "max_tokens": 2048}},
     each(No(400, "reasoning takes effort or max_tokens, not both"))),
    ("reasoning.enabled", {"reasoning": {"enabled": True}}, {
        "openai": Gone(("reasoning_effort",)), "anthropic": At(("thinking",), {"type": "adaptive"}),
        "gemini": At((GEN, "thinkingConfig"), {"includeThoughts": True}),
        "bedrock": At((EXTRA, "thinking"), {"type": "adaptive"})}),
    ("reasoning.enabled false", {"reasoning": {"enabled": False}}, {
        "openai": Gone(("reasoning_effort",)), "anthropic": At(("thinking",), {"type": "disabled"}),
        "gemini": At((GEN, "thinkingConfig"), {"thinkingBudget": 0}),
        "bedrock": At((EXTRA, "thinking"), {"type": "disabled"})}),
    ("reasoning.exclude", {"reasoning": {"effort": "high", "exclude": True}}, {
        "openai": At(("reasoning_effort",), "high"),
        "anthropic": At(("thinking",), {"type": "adaptive", "display": "omitted"}),
        "gemini": At((GEN, "thinkingConfig"), {"thinkingBudget": 24576}),
        "bedrock": At((EXTRA, "thinking"), {"type": "adaptive"})}),
    ("reasoning.summary", {"reasoning": {"effort": "low", "summary": "auto"}}, {
        "openai": (At(("reasoning_effort",), "low"), Gone(("reasoning", "summary"))),
        "anthropic": Gone(("reasoning",)), "gemini": Gone(("reasoning",)), "bedrock": Gone(("reasoning",))}),
    ("include_reasoning true", {"include_reasoning": True}, {
        "openai": Gone(("include_reasoning",)), "anthropic": At(("thinking",), {"type": "adaptive"}),
        "gemini": At((GEN, "thinkingConfig"), {"includeThoughts": True}),
        "bedrock": At((EXTRA, "thinking"), {"type": "adaptive"})}),
    ("include_reasoning false", {"include_reasoning": False, "reasoning": {"effort": "low"}}, {
        "openai": (At(("reasoning_effort",), "low"), Gone(("include_reasoning",))),
        "anthropic": At(("thinking",), {"type": "adaptive", "display": "omitted"}),
        "gemini": At((GEN, "thinkingConfig"), {"thinkingBudget": 13107}),
        "bedrock": At((EXTRA, "thinking"), {"type": "adaptive"})}),
    ("include_reasoning contradicting reasoning.exclude", {"include_reasoning": True, "reasoning": {"exclude": True}},
     each(No(400, "include_reasoning: true contradicts reasoning.exclude: true"))),
]

CACHE_AND_IDENTITY: list[Row] = [
    ("user", {"user": "end-user-7"}, {
        "openai": At(("user",), "end-user-7"), "anthropic": At(("metadata", "user_id"), "end-user-7"),
        "gemini": Gone(("user",)), "bedrock": Gone(("user",))}),
    ("metadata", {"metadata": {"team": "search"}}, only_openai(("metadata",), {"team": "search"})),
    ("session_id", {"session_id": "conversation-42"}, each(Gone(("session_id",)))),
    ("trace", {"trace": {"trace_id": "t-1", "span_name": "answer"}}, each(Gone(("trace",)))),
    ("prompt_cache_key", {"prompt_cache_key": "tenant-9"}, only_openai(("prompt_cache_key",), "tenant-9")),
    ("prompt_cache_options", {"prompt_cache_options": {"mode": "explicit"}},
     only_openai(("prompt_cache_options",), {"mode": "explicit"})),
    ("cache_control at the top level", {"cache_control": {"type": "ephemeral", "ttl": "1h"}}, {
        "openai": Gone(("cache_control",)), "anthropic": At(("cache_control",), {"type": "ephemeral", "ttl": "1h"}),
        "gemini": Gone(("cache_control",)),
        "bedrock": At(("messages", -1, "content", -1), {"cachePoint": {"type": "default", "ttl": "1h"}})}),
    ("cache_control on a part", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "A long document.", "cache_control": {"type": "ephemeral"}}]}]}, {
        "openai": At(("messages", 0, "content", 0, "cache_control"), {"type": "ephemeral"}),
        "anthropic": At(("messages", 0, "content", 0, "cache_control"), {"type": "ephemeral"}),
        "gemini": At(("contents", 0, "parts", 0), {"text": "A long document."}),
        "bedrock": At(("messages", 0, "content", 1), {"cachePoint": {"type": "default"}})}),
    ("service_tier", {"service_tier": "flex"}, only_openai(("service_tier",), "flex")),
    ("store", {"store": False}, only_openai(("store",), False)),
    ("stream_options", {"stream_options": {"include_usage": True}}, each(Gone(("stream_options", "unknown")))),
    ("usage", {"usage": {"include": True}}, each(Gone(("usage",)))),
    ("debug", {"debug": {"echo_upstream_body": True}}, each(Gone(("debug",)))),
]


def _provider_rows() -> list[Row]:
    served: dict[str, Expect] = each(Gone(("provider",)))
    rows: list[Row] = [
        ("provider.only by display name", {"provider": {"only": ["__DISPLAY__"]}}, served),
        ("provider.only by slug in capitals", {"provider": {"only": ["__SLUG__"]}}, served),
        ("provider.order and ignore by display name", {"provider": {"order": ["__DISPLAY__"], "ignore": ["Groq"]}},
         served),
        ("provider.ignore by display name", {"provider": {"ignore": ["__DISPLAY__"]}},
         each(No(404, "provider.ignore"))),
        ("provider nulls", {"provider": {"allow_fallbacks": None, "require_parameters": None, "data_collection": None,
                                         "zdr": None, "sort": None, "order": None, "only": None, "ignore": None}},
         served),
        ("provider.require_parameters with logprobs", {"logprobs": True, "provider": {"require_parameters": True}}, {
            "openai": At(("logprobs",), True), "anthropic": No(404, "does not support logprobs (require_parameters)"),
            "gemini": At((GEN, "responseLogprobs"), True),
            "bedrock": No(404, "does not support logprobs (require_parameters)")}),
        ("provider.max_price as strings", {"provider": {"max_price": {"prompt": "100", "completion": "100"}}}, served),
        ("provider.max_price below the price", {"provider": {"max_price": {"prompt": "0.0000001"}}},
         each(No(404, "prompt price above provider.max_price"))),
        ("provider.quantizations", {"provider": {"quantizations": ["fp8"]}},
         each(No(404, "quantization unknown is not in provider.quantizations"))),
        ("provider.preferred_min_throughput", {"provider": {"preferred_min_throughput": {"p50": 10}}}, served),
        ("provider.preferred_max_latency", {"provider": {"preferred_max_latency": 3}}, served),
        ("sort as an object", {"provider": {"sort": {"by": "price", "partition": "none"}}}, served),
        ("route (deprecated)", {"route": "fallback"}, served),
        ("models fallback list", {"models": ["fields/openai"]}, served),
    ]
    rows += [(f"provider.sort {sort}", {"provider": {"sort": sort}}, served)
             for sort in ("price", "throughput", "latency", "exacto")]
    rows += [(f"provider.data_collection {value}", {"provider": {"data_collection": value}}, served)
             for value in ("allow", "deny")]
    rows += [(f"provider.allow_fallbacks {value}", {"provider": {"allow_fallbacks": value}}, served)
             for value in (True, False)]
    return rows


FEATURES: list[Row] = [
    ("plugins web", {"plugins": [{"id": "web", "max_results": 3}]}, each(No(400, "The web plugin is not offered"))),
    ("plugins web disabled", {"plugins": [{"id": "web", "enabled": False}]}, each(Gone(("plugins",)))),
    ("plugins file-parser", {"plugins": [{"id": "file-parser", "pdf": {"engine": "pdf-text"}}]},
     each(No(400, "The file-parser plugin is not offered"))),
    ("plugins response-healing", {"plugins": [{"id": "response-healing"}]},
     each(No(400, "The response-healing plugin is not offered"))),
    ("plugins moderation", {"plugins": [{"id": "moderation"}]}, each(No(400, "The moderation plugin is not offered"))),
    ("plugins context-compression", {"plugins": [{"id": "context-compression"}]},
     each(No(400, "The context-compression plugin is not offered"))),
    ("plugins web-fetch", {"plugins": [{"id": "web-fetch"}]}, each(No(400, "The web-fetch plugin is not offered"))),
    ("plugins auto-router", {"plugins": [{"id": "auto-router"}]},
     each(No(400, "The auto-router plugin is not offered"))),
    ("transforms middle-out", {"transforms": ["middle-out"]}, each(Gone(("transforms",)))),
    ("transforms empty", {"transforms": []}, each(Gone(("transforms",)))),
    ("the :online variant", {"model": "__MODEL__:online"}, each(No(400, "The :online variant"))),
    ("stop_server_tools_when", {"stop_server_tools_when": [{"type": "step_count_is", "step_count": 3}]},
     each(Gone(("stop_server_tools_when",)))),
]

def _detail_row(detail: str) -> Row:
    return (f"image_url detail {detail}", {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PIXEL, "detail": detail}}]}]},
       {"openai": At(("messages", 0, "content", 1, "image_url", "detail"), "high" if detail == "original" else detail),
        "anthropic": At(("messages", 0, "content", 1, "source", "type"), "base64"),
        "gemini": At(("contents", 0, "parts", 1, "inlineData", "mimeType"), "image/png"),
        "bedrock": At(("messages", 0, "content", 1, "image", "format"), "png")})


CONTENT: list[Row] = [
    *[_detail_row(detail) for detail in ("auto", "low", "high", "original")],
    ("a video part", {"messages": [{"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}]}]},
     each(No(400, "messages[0].content[0] (video_url) is video input, which no requested model takes"))),
    ("an input_video part (deprecated form)", {"messages": [{"role": "user", "content": [
        {"type": "input_video", "video_url": {"url": "https://example.com/clip.mp4"}}]}]},
     each(No(400, "messages[0].content[0] (video_url) is video input"))),
    ("an audio part for a text model", {"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]},
     each(No(400, "messages[0].content[0] (input_audio) is audio input"))),
    ("a developer message", {"messages": [{"role": "developer", "content": "Be brief."},
                                          {"role": "user", "content": "Hi"}]}, {
        "openai": At(("messages", 0, "role"), "developer"), "anthropic": At(("system",), "Be brief."),
        "gemini": At(("systemInstruction", "parts", 0, "text"), "Be brief."),
        "bedrock": At(("system", 0, "text"), "Be brief.")}),
]

ROWS: list[Row] = [*SAMPLING, *OUTPUT, *TOOLS, *REASONING, *CACHE_AND_IDENTITY, *_provider_rows(), *FEATURES,
                   *CONTENT]
