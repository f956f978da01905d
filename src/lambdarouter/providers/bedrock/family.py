"""The Bedrock family: AWS Bedrock Runtime (host `amazon-bedrock`).

What its Converse chat adapter and its InvokeModel embeddings and image adapters share: the URL layout
(`POST {base}/model/{modelId}/{operation}` on the regional endpoint, `auth.model_url`), SigV4 signing with the
process's AWS credential chain (one `Signer`, `auth`), and the error seam (`errors.http_error`: the type in the
`x-amzn-errortype` header).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.hosts import ResolvedHost
from lambdarouter.providers.base import HttpRequest
from lambdarouter.providers.bedrock.auth import Signer, model_url
from lambdarouter.providers.bedrock.errors import http_error
from lambdarouter.providers.family import Family, Member

JSON = "application/json"


class BedrockFamily(Family):
    name = "bedrock"
    chat_adapter = "lambdarouter.providers.bedrock.chat:ADAPTER"
    embeddings_adapter = "lambdarouter.providers.bedrock.embeddings:ADAPTER"
    # Stability's models take their own body; Nova Canvas and Titan Image share Amazon's.
    image_adapters = (("stability.", "lambdarouter.providers.bedrock.stability:STABILITY"),
                      ("", "lambdarouter.providers.bedrock.images:AMAZON_IMAGES"))

    def __init__(self, signer: Signer | None = None) -> None:
        # By default the module-level AWS chain: credentials resolve once per process, then refresh.
        self.signer = signer or Signer()

    def request(self, host: ResolvedHost, model_id: str, operation: str, body: bytes,
                accept: str = JSON) -> HttpRequest:
        """One SigV4-signed call: the signature covers this exact method, URL, headers and body."""
        region = host.options.get("region") or self.signer.region()
        url = model_url(host.base_url, region, model_id, operation)
        headers = {"content-type": JSON, "accept": accept}
        return HttpRequest("POST", url, self.signer.sign("POST", url, headers, body, region), body)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        return http_error(status, headers, body, provider)


FAMILY = BedrockFamily()


class BedrockMember(Member):
    """A capability adapter of the Bedrock family; the signer is injectable so tests can pin credentials."""

    family: BedrockFamily

    def __init__(self, signer: Signer | None = None) -> None:
        self.family = BedrockFamily(signer) if signer is not None else FAMILY

    def invoke(self, host: ResolvedHost, model_id: str, body: Mapping[str, Any]) -> HttpRequest:
        """One InvokeModel call with the model's own JSON body (embeddings and image models alike)."""
        payload = json.dumps(body, ensure_ascii=False).encode()
        return self.family.request(host, model_id, "invoke", payload)
