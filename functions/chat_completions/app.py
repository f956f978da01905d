"""The chat function: POST /chat/completions, POST /completions (legacy `prompt`), POST /messages (Anthropic's
Messages API, with /messages/count_tokens) and POST /responses (OpenAI's Responses API), under /api/v1 and /v1.

It runs under the AWS Lambda Web Adapter: `run.sh` starts uvicorn on this module's `app`, and the adapter
forwards each API Gateway request to it over HTTP, streaming the response back as it is written (API
Gateway's response-streaming integration), so SSE chunks reach the client as the provider produces them.
/completions, /messages and /responses are served through the chat path (same imports, same permissions, same
streaming), so they share this function and its warm containers. The gateway is built in the init
(lambdarouter/http/function.py) and then reused.
"""

import gc

gc.disable()  # on again, frozen, once the init is done: lambdarouter/http/function.py

from lambdarouter.http.function import function_app  # noqa: E402

# "health": the Web Adapter's readiness probe (AWS_LWA_READINESS_CHECK_PATH); API Gateway routes /health to the
# catalog function, so only the adapter asks it here.
# The other dialects' routes are loaded by their first request (lambdarouter/http/deferred.py): a cold start of
# /chat/completions does not import Anthropic's or the Responses API's schemas.
app = function_app(["chat_completions", "health"], deferred=["completions", "messages", "responses"])
