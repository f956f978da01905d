"""The catalog function: GET /models, /models/{author}/{slug}/endpoints, /health, /openapi.json and the
dashboard's static page (/dashboard, /dashboard/{name}).

All are unauthenticated, read-only and answered from data the process loads once (the catalog, the
OpenAPI document, the page's three files), so one function serves them: one warm container for every
catalog call, a small import set (no provider adapters, no store) and a role that may touch no table and no
secret (the dashboard page calls the management API from the browser, with the key the operator types).
Responses are small and complete, so Mangum's buffered request/response handler is the right host;
streaming stays with the inference functions.
"""

import gc

gc.disable()  # on again, frozen, once the init is done: lambdarouter/http/function.py

from mangum import Mangum  # noqa: E402

from lambdarouter.http.function import function_app  # noqa: E402

handler = Mangum(function_app(["models", "health", "openapi", "dashboard"]), lifespan="off")
