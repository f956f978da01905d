"""OpenRouter's `provider` object: routing preferences, as its OpenAPI document defines `ProviderPreferences`.

Reference: https://openrouter.ai/docs/guides/routing/provider-selection and the `ProviderPreferences` schema of
OpenRouter's published OpenAPI document (tests/openrouter_api/). Every field is nullable there: `null` means
"not set" (the default), never a 400. `sort` is a strategy name or `{by, partition}`; `max_price` values are
strings or numbers of USD. The properties below give the router the effective value of each preference.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from lambdarouter.dialects.openrouter.wire import WireModel

SortBy = Literal["price", "throughput", "latency", "exacto"]


# A price cap is compared with Decimal prices: NaN would raise there (a 500 any key holder could trigger, issue
# 15), a negative one can match nothing.
PriceCap = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class MaxPrice(WireModel):
    """USD per million tokens (prompt, completion) and per request / image / audio unit."""

    prompt: PriceCap | None = None
    completion: PriceCap | None = None
    request: PriceCap | None = None
    image: PriceCap | None = None
    audio: PriceCap | None = None


class SortConfig(WireModel):
    """`sort: {by, partition}`: partition "model" (the default) sorts each model's endpoints, fallback models
    staying fallbacks; "none" sorts every endpoint of every requested model together."""

    by: SortBy | None = None
    partition: Literal["model", "none"] | None = None


class ProviderPreferences(WireModel):
    order: list[str] | None = None
    allow_fallbacks: bool | None = None
    only: list[str] | None = None
    ignore: list[str] | None = None
    sort: SortBy | SortConfig | None = None
    max_price: MaxPrice | None = None
    require_parameters: bool | None = None
    data_collection: Literal["allow", "deny"] | None = None
    quantizations: list[str] | None = None
    zdr: bool | None = None
    enforce_distillable_text: bool | None = None
    preferred_min_throughput: float | dict[str, Any] | None = None
    preferred_max_latency: float | dict[str, Any] | None = None

    @property
    def fallbacks(self) -> bool:
        """`allow_fallbacks`, true unless set false."""
        return self.allow_fallbacks is not False

    @property
    def sort_by(self) -> SortBy | None:
        return self.sort.by if isinstance(self.sort, SortConfig) else self.sort

    @property
    def sorts_across_models(self) -> bool:
        return isinstance(self.sort, SortConfig) and self.sort.partition == "none" and self.sort.by is not None
