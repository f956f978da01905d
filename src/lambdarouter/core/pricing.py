"""Cost of a generation from the catalog's prices: exact `Decimal` USD, never estimated tokens.

And the one rule for what a generation may cost (issue 15): never below zero, and never above what was
reserved for it before the call (`budget.quote` on the endpoint that served it: the prompt estimate plus
the request's `max_tokens`, or the endpoint's output cap). An upstream that reports more usage than that
could have cost is not believed: the reservation is booked, and the claim kept as an anomaly.
"""

from __future__ import annotations

from decimal import Decimal

from msgspec import Struct

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.events import TokenUsage


def generation_cost(usage: TokenUsage, endpoint: EndpointSpec) -> Decimal:
    """Uncached prompt, cache reads, cache writes and completion, each at its own price; server-tool uses at
    theirs.

    Cache writes with a one-hour TTL are billed at the endpoint's one-hour write price, the rest at its
    (five-minute) write price. Reasoning tokens are part of `completion_tokens`; they are billed at the
    endpoint's reasoning price when it has one, else at the completion price (as OpenAI and Anthropic bill
    them). So are the tokens of generated images, billed at the endpoint's image-output price when it has one
    (Gemini's image models). Web searches a server tool ran are billed per search (`endpoint.web_search`). A
    report whose parts exceed their whole (more reasoning tokens than completion tokens, more one-hour writes
    than writes) is billed for the whole: no part can make another one negative.
    """
    cache_read_price = endpoint.cache_read if endpoint.cache_read is not None else endpoint.prompt
    cache_write_price = endpoint.cache_write if endpoint.cache_write is not None else endpoint.prompt
    hour_write_price = endpoint.cache_write_1h if endpoint.cache_write_1h is not None else cache_write_price
    uncached = max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
    hour_writes = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens) if endpoint.reasoning is not None else 0
    images = max(min(usage.image_tokens, usage.completion_tokens - reasoning), 0) if endpoint.image_output else 0
    return (
        uncached * endpoint.prompt
        + usage.cached_tokens * cache_read_price
        + (usage.cache_write_tokens - hour_writes) * cache_write_price
        + hour_writes * hour_write_price
        + (usage.completion_tokens - reasoning - images) * endpoint.completion
        + reasoning * (endpoint.reasoning or Decimal(0))
        + images * (endpoint.image_output or Decimal(0))
        + usage.web_search_requests * endpoint.web_search
        + endpoint.request
    )


class Charge(Struct, frozen=True):
    """What one generation is booked at (and the client told), and what its usage claimed when that was more
    than the ceiling allowed (None when the usage was believed)."""

    cost: Decimal
    claimed: Decimal | None = None

    @property
    def anomaly(self) -> str | None:
        """The ledger's note on a claim that was not believed."""
        if self.claimed is None:
            return None
        return f"usage claimed ${self.claimed:f}, above the ${self.cost:f} reserved for the request; booked that"


def bounded(cost: Decimal, ceiling: Decimal) -> Charge:
    """`cost` within [0, ceiling]: the charge for a generation whose worst case was `ceiling`."""
    cost = max(cost, Decimal(0))
    if cost > ceiling:
        return Charge(ceiling, claimed=cost)
    return Charge(cost)
