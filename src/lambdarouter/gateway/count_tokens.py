"""POST /messages/count_tokens: the prompt's input tokens, counted by the provider where it can count them.

Claude on Anthropic's API: the client's body forwarded to Anthropic's own count_tokens (model rewritten, betas
along), whose count is exact. Claude on Bedrock: Bedrock's CountTokens with the native body. Any other model,
or when the provider cannot count (a Bedrock model without CountTokens, a provider down): the gateway's
estimate (dialects/anthropic/size.py: 4 characters per token of what the model reads, plus per-message and
per-image figures), said in the `x-token-count` header (`provider` or `estimate`). Counting is free at both
providers and produces nothing, so it is neither charged, rate limited nor written to the ledger; the key's
model allow-list applies (403) as on every route that names a model.
"""

from __future__ import annotations

import logging
from typing import Literal

from msgspec import Struct

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.routing import Candidate, plan_operation
from lambdarouter.dialects.anthropic.models import catalog_id
from lambdarouter.dialects.anthropic.request import CountTokensRequest
from lambdarouter.dialects.anthropic.size import estimated_tokens, measure
from lambdarouter.gateway.messages import way
from lambdarouter.gateway.service import Gateway
from lambdarouter.providers import adapter_for, transport
from lambdarouter.providers.anthropic.passthrough import ClientHeaders, forwarded
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.store import KeyRecord

logger = logging.getLogger(__name__)
# A Messages request needs max_tokens above any thinking budget; a count request carries none.
COUNT_MAX_TOKENS = 1


class Count(Struct, frozen=True):
    input_tokens: int
    source: Literal["provider", "estimate"]


async def count_tokens(gateway: Gateway, key: KeyRecord, request: CountTokensRequest, body: bytes,
                       client: ClientHeaders) -> Count:
    model_id = catalog_id(request.model, gateway.catalog)
    if not key.allows_model(model_id, gateway.catalog.resolve(model_id).model.id):
        raise GatewayError(403, f"This key may not use {model_id}.")
    size = measure(request, body)
    candidates = plan_operation([model_id], None, "text", size.reserved_tokens, gateway.catalog,
                                gateway.credentials, gateway.health)
    for candidate in candidates:
        if way(candidate) == "translated":
            continue
        try:
            return Count(await _counted(candidate, request, body, client), "provider")
        except GatewayError as exc:
            if not exc.retryable and way(candidate) == "anthropic":
                raise  # the request itself is wrong: Anthropic's 400 is the client's answer
            # Bedrock refuses CountTokens for some models (those launched cross-Region only): estimated then.
            logger.warning("count_tokens on %s failed (%s); trying the next", candidate.endpoint.host, exc.status)
    return Count(estimated_tokens(size), "estimate")


async def _counted(candidate: Candidate, request: CountTokensRequest, body: bytes, client: ClientHeaders) -> int:
    spec = candidate.host.spec
    mapper = adapter_for(spec.wire_format)
    answer = await transport.send(_count_request(candidate, request, body, client), mapper, spec.name,
                                  transport.timeout_for(spec))
    if way(candidate) == "bedrock":
        from lambdarouter.providers.bedrock import invoke  # botocore: imported by Bedrock requests only

        return invoke.counted_tokens(answer, spec.name)
    data = parse_json_body(answer)
    count = data.get("input_tokens") if isinstance(data, dict) else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise malformed("a count_tokens answer without input_tokens", spec.name)
    return count


def _count_request(candidate: Candidate, request: CountTokensRequest, body: bytes,
                   client: ClientHeaders) -> HttpRequest:
    upstream_id = candidate.endpoint.upstream_id
    if way(candidate) == "anthropic":
        return forwarded(body, candidate.host, upstream_id, client, False, "/v1/messages/count_tokens")
    from lambdarouter.providers.bedrock import invoke  # botocore: imported by Bedrock requests only

    budget = request.thinking.budget_tokens if request.thinking is not None else None
    return invoke.count_tokens(invoke.SIGNER, candidate.host, upstream_id, body, client,
                               (budget or 0) + COUNT_MAX_TOKENS)
