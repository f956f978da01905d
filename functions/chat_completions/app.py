"""The chat function: POST /chat/completions, POST /completions (legacy `prompt`), POST /messages (Anthropic's
Messages API, with /messages/count_tokens) and POST /responses (OpenAI's Responses API), under /api/v1 and /v1.

It runs under the AWS Lambda Web Adapter: `run.sh` starts uvicorn on this module's `app`, and the adapter
forwards each API Gateway request to it over HTTP, streaming the response back as it is written (API
Gateway's response-streaming integration), so SSE chunks reach the client as the provider produces them.
/completions, /messages and /responses are served through the chat path (same imports, same permissions, same
streaming), so they share this function and its warm containers. The gateway itself is built on the first request
and then reused.
"""

from lambdarouter.http.app import create_app

# "health": the Web Adapter's readiness probe (AWS_LWA_READINESS_CHECK_PATH); API Gateway routes /health to the
# catalog function, so only the adapter asks it here.
app = create_app(["chat_completions", "completions", "messages", "responses", "health"])
