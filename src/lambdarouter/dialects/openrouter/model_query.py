"""GET /models' query filters, as OpenRouter's OpenAPI document lists them (`getModels` parameters).

Applied to the rendered `Model` entries: `q` (free text in the id, name and description), `input_modalities`,
`supported_parameters` and `model_authors` (comma-separated; a model must have every modality and parameter
listed, and be by one of the authors), `context` (minimum context length), `min_price` / `max_price` and
`min_output_price` / `max_output_price` (USD per million prompt / completion tokens), then `offset` / `limit`
(a page of at most 1000; without either, the whole list). `output_modalities` is read by the route itself.
Filters the catalog has no data for (`category`, `arch`, `providers`, `distillable`, `zdr`, `region`, the
benchmark indexes, `sort`) are left out of the listing's decision; docs/request-fields.md says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation

from lambdarouter.core.errors import bad_request
from lambdarouter.dialects.openrouter.models import Model

MAX_LIMIT = 1000
MAX_OFFSET = 10**9  # past any catalog
MILLION = Decimal(1_000_000)
Check = Callable[[Model], bool]


def _listed(raw: str) -> list[str]:
    return [part.strip().casefold() for part in raw.split(",") if part.strip()]


def _number(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise bad_request(f"{name} must be a number (got {raw!r}).", param=name) from None
    if not value.is_finite() or value < 0:  # finiteness first: comparing a NaN raises
        raise bad_request(f"{name} must be a non-negative number.", param=name)
    return value


def _price_per_million(entry: Model, field: str) -> Decimal:
    return Decimal(getattr(entry.pricing, field)) * MILLION


def checks(params: Mapping[str, str]) -> list[Check]:
    """One predicate per filter the query sets."""
    found: list[Check] = []
    if q := params.get("q", "").strip().casefold():
        found.append(lambda m: q in f"{m.id} {m.canonical_slug} {m.name} {m.description}".casefold())
    if inputs := _listed(params.get("input_modalities", "")):
        found.append(lambda m: set(inputs) <= {x.casefold() for x in m.architecture.input_modalities})
    if parameters := _listed(params.get("supported_parameters", "")):
        found.append(lambda m: set(parameters) <= set(m.supported_parameters))
    if authors := _listed(params.get("model_authors", "")):
        found.append(lambda m: m.id.split("/")[0].casefold() in authors)
    if (context := _number(params, "context")) is not None:
        found.append(lambda m: m.context_length >= context)
    for name, field, above in (("min_price", "prompt", True), ("max_price", "prompt", False),
                               ("min_output_price", "completion", True), ("max_output_price", "completion", False)):
        if (bound := _number(params, name)) is not None:
            found.append(_price_check(field, bound, above))
    return found


def _price_check(field: str, bound: Decimal, above: bool) -> Check:
    def check(entry: Model) -> bool:
        price = _price_per_million(entry, field)
        return price >= bound if above else price <= bound
    return check


def select(entries: Sequence[Model], params: Mapping[str, str]) -> tuple[list[Model], int] | None:
    """The entries the query keeps, paged, and how many it kept before paging (OpenRouter's `total_count`);
    None when the query sets no filter (the cached whole list serves)."""
    tests = checks(params)
    paged = "limit" in params or "offset" in params
    if not tests and not paged:
        return None
    kept = [entry for entry in entries if all(test(entry) for test in tests)]
    if not paged:
        return kept, len(kept)
    given_offset, given_limit = _number(params, "offset"), _number(params, "limit")
    offset = Decimal(0) if given_offset is None else given_offset
    limit = Decimal(500) if given_limit is None else given_limit
    # Ranges before int(): int(Decimal("1e999999999")) would build a billion-digit number.
    if not 1 <= limit <= MAX_LIMIT or limit % 1:
        raise bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}.", param="limit")
    if offset > MAX_OFFSET or offset % 1:
        raise bad_request(f"offset must be a whole number up to {MAX_OFFSET}.", param="offset")
    return kept[int(offset):int(offset) + int(limit)], len(kept)
