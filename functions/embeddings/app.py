"""The embeddings function: POST /embeddings under /api/v1 and /v1.

Like the chat function it runs uvicorn under the Lambda Web Adapter (`run.sh`), invoked through API
Gateway's response-streaming integration: an embeddings answer never streams token by token, but a large
batch can outgrow Lambda's 6 MB buffered response and API Gateway's 29 s buffered timeout, neither of which
applies to a streamed response. Only the embeddings and image-generation route groups are imported
(an image answer is several MB of base64, well past the buffered limit).
"""

import gc

gc.disable()  # on again, frozen, once the init is done: lambdarouter/http/function.py

from lambdarouter.http.function import function_app  # noqa: E402

# "health": the Web Adapter's readiness probe (AWS_LWA_READINESS_CHECK_PATH); API Gateway routes /health to the
# catalog function, so only the adapter asks it here.
# The image routes are loaded by their first request (lambdarouter/http/deferred.py).
app = function_app(["embeddings", "health"], deferred=["images"])
