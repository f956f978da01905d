"""Bedrock embeddings through InvokeModel: Amazon Titan Text Embeddings and Cohere Embed.

`POST /model/{modelId}/invoke`, SigV4-signed like Converse (the family's). The body is the model's own:

- Titan Text Embeddings V2 (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html):
  one `inputText` per call, optional `dimensions` (1024, 512 or 256) and `normalize`; the answer is
  `{"embedding": [...], "inputTextTokenCount": n}`.
- Cohere Embed (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html):
  `texts` (at most 96 per call) with a required `input_type` (`search_document`: OpenAI's API has no such
  field, and documents are what an embeddings endpoint is mostly fed); the answer's `embeddings` are in
  input order. Its body carries no token count, so the service estimates it.
"""

from __future__ import annotations

from typing import Any

from lambdarouter.core.catalog.spec import EndpointSpec
from lambdarouter.core.events import token_count
from lambdarouter.providers.base import HttpRequest, parse_json_body
from lambdarouter.providers.bedrock.family import BedrockMember
from lambdarouter.providers.common import malformed
from lambdarouter.providers.embeddings import EmbeddingBatch, EmbeddingResult

COHERE_MAX_TEXTS = 96


def is_cohere(upstream_id: str) -> bool:
    return "cohere.embed" in upstream_id


class BedrockEmbeddings(BedrockMember):
    takes_tokens = False

    def batch_limit(self, endpoint: EndpointSpec) -> int:
        return COHERE_MAX_TEXTS if is_cohere(endpoint.upstream_id) else 1

    def build_request(self, batch: EmbeddingBatch) -> HttpRequest:
        texts = batch.texts or []
        body: dict[str, Any]
        if is_cohere(batch.endpoint.upstream_id):
            body = {"texts": texts, "input_type": "search_document"}
        else:
            body = {"inputText": texts[0]}
            if batch.dimensions is not None:
                body["dimensions"] = batch.dimensions
        return self.invoke(batch.host, batch.endpoint.upstream_id, body)

    def parse_response(self, body: bytes, batch: EmbeddingBatch) -> EmbeddingResult:
        data = parse_json_body(body)
        provider = batch.host.spec.name
        if not isinstance(data, dict):
            raise malformed("an InvokeModel response that is not JSON", provider)
        if is_cohere(batch.endpoint.upstream_id):
            vectors = data.get("embeddings")
            if isinstance(vectors, dict):  # the `embeddings_by_type` shape when embedding_types is set
                vectors = vectors.get("float")
            if not isinstance(vectors, list):
                raise malformed("a Cohere Embed response without embeddings", provider)
            return EmbeddingResult([[float(x) for x in v] for v in vectors], 0)
        vector = data.get("embedding")
        if not isinstance(vector, list):
            raise malformed("a Titan embeddings response without embedding", provider)
        return EmbeddingResult([[float(x) for x in vector]], token_count(data.get("inputTextTokenCount")))


ADAPTER = BedrockEmbeddings()
