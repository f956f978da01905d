"""The catalog's parameter names (OpenRouter's `supported_parameters`) and what of a request each allows.

An endpoint lists the parameters it takes; an option whose parameter it does not list is dropped before
translation, as OpenRouter does (https://openrouter.ai/docs/api-reference/parameters), and
`provider.require_parameters` keeps only endpoints that take every parameter the request uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec.structs import replace

from lambdarouter.core.conversation import OPENAI_CHAT, ChatRequest, Sampling

# Request fields of OpenRouter's chat API → the parameter that allows them.
PARAMETER_OF_FIELD: Mapping[str, str] = {
    "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "stop": "stop",
    "max_tokens": "max_tokens", "max_completion_tokens": "max_tokens", "seed": "seed",
    "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty",
    "repetition_penalty": "repetition_penalty", "min_p": "min_p", "top_a": "top_a",
    "logit_bias": "logit_bias", "logprobs": "logprobs", "top_logprobs": "top_logprobs",
    "response_format": "response_format", "tools": "tools", "tool_choice": "tool_choice",
    "parallel_tool_calls": "tools", "reasoning_effort": "reasoning", "n": "n",
    "verbosity": "verbosity", "web_search_options": "web_search_options", "reasoning": "reasoning",
    "include_reasoning": "include_reasoning", "prediction": "prediction",
}
# Every `Sampling` field is the parameter of its own name.
SAMPLING_PARAMETERS = Sampling.__struct_fields__


def offered(request: ChatRequest, supported: frozenset[str]) -> ChatRequest:
    """`request` without the options whose parameter `supported` does not list."""
    if asked(request) <= supported:
        return request
    sampling = replace(request.sampling, **{name: None for name in SAMPLING_PARAMETERS if name not in supported})
    tools = "tools" in supported
    return replace(
        request,
        sampling=sampling,
        stop=request.stop if "stop" in supported else (),
        max_output_tokens=request.max_output_tokens if "max_tokens" in supported else None,
        choices=request.choices if "n" in supported else None,
        output=request.output if "response_format" in supported else None,
        tools=request.tools if tools else (),
        parallel_tool_calls=request.parallel_tool_calls if tools else None,
        tool_choice=request.tool_choice if "tool_choice" in supported else None,
        reasoning=request.reasoning if "reasoning" in supported else None,
        verbosity=request.verbosity if "verbosity" in supported else None,
        logprobs=_offered_logprobs(request.logprobs, supported),
        extensions=_offered_extensions(request.extensions, supported),
    )


def _offered_logprobs(logprobs: int | None, supported: frozenset[str]) -> int | None:
    if logprobs is None or "logprobs" not in supported:
        return None
    return logprobs if "top_logprobs" in supported else 0


def asked(request: ChatRequest) -> frozenset[str]:
    """The parameters the request uses."""
    used = {name for name in SAMPLING_PARAMETERS if getattr(request.sampling, name) is not None}
    for name, present in (("stop", request.stop), ("max_tokens", request.max_output_tokens is not None),
                          ("n", request.choices is not None),
                          ("response_format", request.output is not None), ("tools", request.tools),
                          ("tools", request.parallel_tool_calls is not None),
                          ("tool_choice", request.tool_choice is not None),
                          ("reasoning", request.reasoning is not None),
                          ("verbosity", request.verbosity is not None), ("logprobs", request.logprobs is not None),
                          ("top_logprobs", bool(request.logprobs))):
        if present:
            used.add(name)
    used.update(PARAMETER_OF_FIELD[name] for name in request.extensions.get(OPENAI_CHAT, ())
                if name in PARAMETER_OF_FIELD)
    return frozenset(used)


def _offered_extensions(extensions: Mapping[str, Mapping[str, Any]], supported: frozenset[str]
                        ) -> Mapping[str, Mapping[str, Any]]:
    top = extensions.get(OPENAI_CHAT)
    if not top:
        return extensions
    kept = {k: v for k, v in top.items() if k not in PARAMETER_OF_FIELD or PARAMETER_OF_FIELD[k] in supported}
    return {**extensions, OPENAI_CHAT: kept}
