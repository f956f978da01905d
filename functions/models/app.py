"""The control function: GET /models, /models/{author}/{slug}/endpoints, /health and /openapi.json.

All four are unauthenticated, read-only and answered from data the process loads once (the catalog, the
OpenAPI document), so one function serves them: one warm container for every catalog call, a small
import set (no provider adapters, no store). Responses are small and complete, so Mangum's buffered
request/response handler is the right host; streaming stays with the inference functions.
"""

from mangum import Mangum

from lambdarouter.http.app import create_app

handler = Mangum(create_app(["models", "health", "openapi"]), lifespan="off")
