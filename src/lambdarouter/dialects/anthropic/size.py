"""How big a Messages prompt is: what the budget reserves, and the token count answered for models whose provider
cannot count them.

The reservation is bounded from above by the body itself: every byte of it but the base64 of its images (each
image counts as `TOKENS_PER_IMAGE` instead, the most any provider documents for one image). The text a model
actually reads (system, text and thinking blocks, tool calls and results, tool definitions) gives the estimate
that is charged when a provider never reports usage and the count `/messages/count_tokens` answers for a model
whose provider has no counting API: `CHARS_PER_TOKEN_CHARGED` characters per token, plus the per-message and
per-image figures of core/budget.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lambdarouter.core.budget import (
    TOKENS_PER_IMAGE,
    TOKENS_PER_WEB_FETCH,
    TOKENS_PER_WEB_SEARCH,
    UNCAPPED_SERVER_TOOL_USES,
    PromptSize,
    ServerTools,
)
from lambdarouter.dialects.anthropic.request import (
    Block,
    CountTokensRequest,
    ImageBlock,
    InputMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)


def measure(request: CountTokensRequest, raw: bytes) -> PromptSize:
    texts = list(_texts(request))
    images, image_bytes = _images(request.messages)
    chars = sum(len(text) for text in texts)
    turns = len(request.messages) + (1 if request.system else 0)
    return PromptSize(max(len(raw) - image_bytes, chars), chars, turns, images)


def server_tools(request: CountTokensRequest) -> ServerTools:
    """What the request's Anthropic server tools may do at most: web searches and fetches up to each tool's
    `max_uses`, each bringing back its results (core/budget.py's allowances)."""
    searches = result_tokens = 0
    for tool in request.tools or ():
        kind, options = tool.type or "", tool.model_extra or {}
        uses = _positive(options.get("max_uses")) or UNCAPPED_SERVER_TOOL_USES
        if kind.startswith("web_search_"):
            searches += uses
            result_tokens += uses * TOKENS_PER_WEB_SEARCH
        elif kind.startswith("web_fetch_"):
            result_tokens += uses * (_positive(options.get("max_content_tokens")) or TOKENS_PER_WEB_FETCH)
    return ServerTools(searches, result_tokens)


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def estimated_tokens(size: PromptSize) -> int:
    """The count answered for a model whose provider cannot count tokens (see the module's docstring)."""
    return size.charged_tokens + TOKENS_PER_IMAGE * size.images


def _texts(request: CountTokensRequest) -> Iterable[str]:
    if isinstance(request.system, str):
        yield request.system
    elif request.system:
        yield from (block.text for block in request.system)
    for tool in request.tools or ():
        yield json.dumps(tool.model_dump(exclude_none=True, exclude={"cache_control"}), ensure_ascii=False)
    for message in request.messages:
        if isinstance(message.content, str):
            yield message.content
        else:
            yield from _block_texts(message.content)


def _block_texts(blocks: Iterable[Any]) -> Iterable[str]:
    for block in blocks:
        if isinstance(block, TextBlock):
            yield block.text
        elif isinstance(block, ThinkingBlock):
            yield block.thinking
        elif isinstance(block, ToolUseBlock):
            yield block.name
            yield json.dumps(block.input, ensure_ascii=False)
        elif isinstance(block, ToolResultBlock):
            if isinstance(block.content, str):
                yield block.content
            elif block.content:
                yield from _block_texts(block.content)
        elif not isinstance(block, ImageBlock):
            # Documents, redacted thinking, server tool results, search results: their JSON bounds what the
            # model reads.
            yield block.model_dump_json(exclude={"cache_control"})


def _images(messages: list[InputMessage]) -> tuple[int, int]:
    """(images, bytes of their inline data) in the conversation, tool results included."""
    count = size = 0
    pending: list[Block] = [b for m in messages if not isinstance(m.content, str) for b in m.content]
    while pending:
        block = pending.pop()
        if isinstance(block, ImageBlock):
            count += 1
            data = (block.source.model_extra or {}).get("data")
            size += len(data) if isinstance(data, str) else 0
        elif isinstance(block, ToolResultBlock) and isinstance(block.content, list):
            pending.extend(block.content)
    return count, size
