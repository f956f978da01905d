"""Cost of a generation from the catalog's prices: exact `Decimal` USD, never estimated tokens."""

from __future__ import annotations

from decimal import Decimal

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.events import TokenUsage


def generation_cost(usage: TokenUsage, endpoint: EndpointSpec) -> Decimal:
    """Uncached prompt, cache reads, cache writes and completion, each at its own price.

    Reasoning tokens are part of `completion_tokens`; they are billed at the endpoint's reasoning price
    when it has one, else at the completion price (as OpenAI and Anthropic bill them). So are the tokens of
    generated images, billed at the endpoint's image-output price when it has one (Gemini's image models).
    """
    cache_read_price = endpoint.cache_read if endpoint.cache_read is not None else endpoint.prompt
    cache_write_price = endpoint.cache_write if endpoint.cache_write is not None else endpoint.prompt
    uncached = max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
    reasoning = usage.reasoning_tokens if endpoint.reasoning is not None else 0
    images = max(min(usage.image_tokens, usage.completion_tokens - reasoning), 0) if endpoint.image_output else 0
    return (
        uncached * endpoint.prompt
        + usage.cached_tokens * cache_read_price
        + usage.cache_write_tokens * cache_write_price
        + (usage.completion_tokens - reasoning - images) * endpoint.completion
        + reasoning * (endpoint.reasoning or Decimal(0))
        + images * (endpoint.image_output or Decimal(0))
        + endpoint.request
    )
