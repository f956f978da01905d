"""OpenAI embeddings wire format: OpenAI itself, Azure and every OpenAI-compatible host.

Reference: https://platform.openai.com/docs/api-reference/embeddings/create — `POST /embeddings` with
`input` (strings or token arrays: "any array must be 2048 dimensions or less", so at most 2,048 inputs per
call), `dimensions` (text-embedding-3 and later), `encoding_format`. The gateway always asks for floats
and encodes base64 itself, so every provider answers the client the same way.
"""

from __future__ import annotations

import json
from typing import Any

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.events import token_count
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.embeddings import EmbeddingBatch, EmbeddingResult
from lambdarouter.providers.family import Member
from lambdarouter.providers.openai.family import FAMILY

MAX_INPUTS = 2048


class OpenAIEmbeddings(Member):
    family = FAMILY
    takes_tokens = True

    def batch_limit(self, endpoint: EndpointSpec) -> int:
        return MAX_INPUTS

    def build_request(self, batch: EmbeddingBatch) -> HttpRequest:
        body: dict[str, Any] = {"model": batch.endpoint.upstream_id,
                                "input": batch.texts if batch.texts is not None else batch.tokens,
                                "encoding_format": "float"}
        if batch.dimensions is not None:
            body["dimensions"] = batch.dimensions
        return FAMILY.request(batch.host, "embeddings", json.dumps(body).encode())

    def parse_response(self, body: bytes, batch: EmbeddingBatch) -> EmbeddingResult:
        data = parse_json_body(body)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise malformed("an embeddings response without data", batch.host.spec.name)
        # `index` says which input each vector belongs to; order by it rather than trust the list order.
        items = sorted(data["data"], key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in item.get("embedding") or []] for item in items]
        usage = data.get("usage") or {}
        return EmbeddingResult(vectors, token_count(usage.get("prompt_tokens")))


ADAPTER = OpenAIEmbeddings()
