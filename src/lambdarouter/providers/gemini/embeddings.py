"""Gemini embeddings: `models.batchEmbedContents`.

Reference: https://ai.google.dev/api/embeddings#method:-models.batchembedcontents — `POST
/v1beta/models/{model}:batchEmbedContents` with `requests[]` of EmbedContentRequest (`model`, `content`,
`outputDimensionality`); the response's `embeddings[]` are "in the same order as provided in the batch
request". The API refuses more than 100 requests in one batch, so inputs go in batches of 100. It reports
no token usage: the service estimates it (the ledger row says so).
"""

from __future__ import annotations

import json
from typing import Any

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.common import malformed
from lambdarouter.providers.embeddings import EmbeddingBatch, EmbeddingResult
from lambdarouter.providers.family import Member
from lambdarouter.providers.gemini.family import FAMILY, GeminiHost, model_path

MAX_REQUESTS = 100


class GeminiEmbeddings(Member):
    takes_tokens = False

    def __init__(self, family: GeminiHost = FAMILY) -> None:
        self.family: GeminiHost = family

    def batch_limit(self, endpoint: EndpointSpec) -> int:
        return MAX_REQUESTS

    def build_request(self, batch: EmbeddingBatch) -> HttpRequest:
        model = model_path(batch.endpoint.upstream_id)
        requests: list[dict[str, Any]] = []
        for text in batch.texts or []:
            one: dict[str, Any] = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
            if batch.dimensions is not None:
                one["outputDimensionality"] = batch.dimensions
            requests.append(one)
        body = json.dumps({"requests": requests}, ensure_ascii=False).encode()
        return self.family.model_request(batch.host, batch.endpoint.upstream_id, "batchEmbedContents", body)

    def parse_response(self, body: bytes, batch: EmbeddingBatch) -> EmbeddingResult:
        data = parse_json_body(body)
        if not isinstance(data, dict) or not isinstance(data.get("embeddings"), list):
            raise malformed("a batchEmbedContents response without embeddings", batch.host.spec.name)
        return EmbeddingResult([[float(x) for x in e.get("values") or []] for e in data["embeddings"]], 0)


ADAPTER = GeminiEmbeddings()
