"""The `response` object: what a Responses client gets whole, and inside the stream's lifecycle events.

Reference: https://platform.openai.com/docs/api-reference/responses/object, checked against the `openai`
SDK's `Response` type and OpenRouter's `OpenResponsesResult` (whose `usage` adds `cost`, in USD, and
`input_tokens_details.cache_write_tokens`). Like OpenAI, a response repeats the settings it was made with
(`echo_of`); like OpenRouter, it is never stored (`store: false`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import Finish, TokenUsage
from lambdarouter.dialects.openrouter.assemble import Identity
from lambdarouter.dialects.responses.request import ResponsesRequest

Status = Literal["completed", "incomplete", "failed", "in_progress"]

# A finish reason that is not a plain stop → the response's status and `incomplete_details.reason`.
INCOMPLETE_REASONS: Mapping[str, str] = {"length": "max_output_tokens", "content_filter": "content_filter"}

# Gateway status → the Responses error `code` (the `openai` SDK's `ResponseError.code` names): what a client
# such as Codex reads to decide whether to retry a failed stream.
ERROR_CODES: Mapping[int, str] = {429: "rate_limit_exceeded", 400: "invalid_prompt"}


def echo_of(request: ResponsesRequest) -> dict[str, Any]:
    """The request's settings as every response of it repeats them (OpenAI's defaults where it set none)."""
    reasoning = request.reasoning
    text = request.text.model_dump(mode="json", by_alias=True, exclude_none=True) if request.text else {}
    return {
        "instructions": request.instructions,
        "metadata": request.metadata or {},
        "parallel_tool_calls": True if request.parallel_tool_calls is None else request.parallel_tool_calls,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "presence_penalty": request.presence_penalty,  # OpenRouter's; its schema requires them (null: unset)
        "frequency_penalty": request.frequency_penalty,
        "tool_choice": _dumped(request.tool_choice) if request.tool_choice is not None else "auto",
        "tools": [_tool(_dumped(tool)) for tool in request.tools or ()],
        "max_output_tokens": request.max_output_tokens,
        "reasoning": {"effort": reasoning.effort if reasoning else None,
                      "summary": (reasoning.summary or reasoning.generate_summary) if reasoning else None},
        "text": {"format": {"type": "text"}, **text},
        "truncation": request.truncation or "disabled",
        "user": request.user,
        "store": False,
        "background": False,
        "previous_response_id": None,
    }


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool as a response repeats it: a function's `parameters` and `strict` always there (null when unset),
    as OpenAI repeats them and OpenRouter's `FunctionTool` requires."""
    if tool.get("type") == "function":
        return {"parameters": None, "strict": None, **tool}
    if tool.get("type") == "namespace":
        return {**tool, "tools": [_tool(inner) for inner in tool.get("tools") or ()]}
    return tool


def _dumped(value: Any) -> Any:
    return value.model_dump(mode="json", by_alias=True, exclude_none=True) if hasattr(value, "model_dump") else value


def usage_body(usage: TokenUsage, cost: Decimal) -> dict[str, Any]:
    """Responses usage (input includes cached reads and cache writes; output includes reasoning) and its cost."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "cost": float(cost),
    }


def status_of(finish: Finish | None, error: GatewayError | None) -> Status:
    if error is not None or (finish is not None and finish.reason == "error"):
        return "failed"
    if finish is not None and finish.reason in INCOMPLETE_REASONS:
        return "incomplete"
    return "completed"


def error_body(error: GatewayError) -> dict[str, Any]:
    """`response.error` of a failed response: OpenAI's code, the gateway's message and status."""
    code = ERROR_CODES.get(error.status, "server_error")
    return {"code": code, "message": error.message, "status": error.status, **(
        {"metadata": error.metadata} if error.metadata else {})}


def response_body(identity: Identity, echo: Mapping[str, Any], status: Status, output: Sequence[dict[str, Any]],
                  usage: dict[str, Any] | None = None, *, finish: Finish | None = None,
                  error: GatewayError | None = None, completed_at: int | None = None) -> dict[str, Any]:
    """One `response` object. `output_text` is OpenRouter's convenience field (the SDKs compute it too);
    `completed_at` is null until it completed (OpenRouter's schema requires the field)."""
    body: dict[str, Any] = {
        "id": identity.id, "object": "response", "created_at": identity.created, "status": status,
        "model": identity.model, "output": list(output), "output_text": output_text(output),
        "error": error_body(error) if error is not None else None,
        "incomplete_details": ({"reason": INCOMPLETE_REASONS[finish.reason]}
                               if status == "incomplete" and finish is not None else None),
        **echo, "completed_at": completed_at if status == "completed" else None,
    }
    if usage is not None:  # none yet (in progress): left out, as OpenRouter's schema has no null usage
        body["usage"] = usage
    return body


def output_text(output: Sequence[Mapping[str, Any]]) -> str:
    """The text of every `output_text` part of the assistant's messages, in order."""
    return "".join(part.get("text", "") for item in output if item.get("type") == "message"
                   for part in item.get("content") or () if part.get("type") == "output_text")
