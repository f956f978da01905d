"""A non-streamed chat answer, written straight to the bytes the client is sent, as the streamed chunks are
(chunks.py).

Building the answer as pydantic models (`ChatCompletion`, `ResponseMessage`, `Choice`, `Usage`) and calling
`model_dump_json` cost a non-streamed request its models' construction and validation, and the chat function's
cold start the building of those schemas (issues 19 and 20). The answer is a dict in the documented field order,
encoded by pydantic-core's own JSON writer (`to_json`, the one `model_dump_json` runs), so the bytes are the same
to the number format: `0.00001`, `1.5e-7`, raw UTF-8. The documented shapes stay in answer_schema.py, for the
OpenAPI document (http/openapi.py); tests/test_answer_bytes.py holds the two together over every kind of answer.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from lambdarouter.core.events import Finish, TokenUsage
from lambdarouter.dialects.openrouter.assemble import Accumulator, Identity


def encode(body: Any) -> bytes:
    """`body` as compact JSON in raw UTF-8. A lone surrogate (a provider may send `"\\ud83d"` alone: legal JSON,
    not UTF-8), which pydantic-core cannot write, is written as its JSON escape (`\\ud83d`) by the json module
    instead, so the client gets what the provider sent (numbers then in Python's spelling: `1e-05`)."""
    try:
        return to_json(body)
    except PydanticSerializationError:
        return _json_text(body).encode("utf-8", "backslashreplace")

_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def usage_body(usage: TokenUsage, cost: Decimal) -> dict[str, Any]:
    """OpenRouter's `usage` of an answer or of a stream's last chunk, with its cost in dollars."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens,
                                  "cache_write_tokens": usage.cache_write_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens,
                                      "image_tokens": usage.image_tokens},
        "cost": float(cost),
    }


def message_body(acc: Accumulator) -> dict[str, Any]:
    """The assistant's message: `content`, `refusal` and `reasoning` null when empty (OpenAI's shape); the
    optional arrays left out instead (OpenRouter's schema types them as arrays, and its SDKs reject a null)."""
    calls = [{"id": parts.id, "type": "function",
              "function": {"name": parts.name, "arguments": "".join(parts.arguments)}}
             for _, parts in sorted(acc.tool_calls.items())]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(acc.text) if acc.text or not calls else None,
        "refusal": "".join(acc.refusal) or None,
    }
    if calls:
        message["tool_calls"] = calls
    message["reasoning"] = "".join(acc.reasoning) or None
    if acc.reasoning_details:
        message["reasoning_details"] = acc.reasoning_details
    if acc.images:
        message["images"] = [{"type": "image_url", "image_url": {"url": url}} for url in acc.images]
    return message


def completion_body(identity: Identity, acc: Accumulator, usage: TokenUsage, cost: Decimal) -> dict[str, Any]:
    """The whole answer (`ChatCompletion`'s fields, in its order, nulls kept)."""
    finish = acc.finish or Finish("stop")
    choice = {"index": 0, "message": message_body(acc), "finish_reason": finish.reason,
              "native_finish_reason": finish.native,
              "logprobs": {"content": acc.logprobs, "refusal": None} if acc.logprobs else None}
    return {"id": identity.id, "object": "chat.completion", "created": identity.created, "model": identity.model,
            "provider": identity.provider, "choices": [choice], "usage": usage_body(usage, cost),
            "system_fingerprint": acc.system_fingerprint}


def completion_bytes(identity: Identity, acc: Accumulator, usage: TokenUsage, cost: Decimal) -> bytes:
    return encode(completion_body(identity, acc, usage, cost))
