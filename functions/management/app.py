"""The management function: keys (GET POST /keys, GET PATCH DELETE /keys/{hash}), GET /credits, and the
dashboard's data (GET /usage, /generations, /generations/{id}, /hosts).

Every route takes the management key (LAMBDAROUTER_ADMIN_KEY, a field of the stack's secret), so they
share one function, one role (keys table read/write, ledger read-only, the secret) and one warm container:
operators call them rarely, and a function per route would only multiply cold starts. The inference path
(adapters, httpx) is never imported here.
"""

import gc

gc.disable()  # on again, frozen, once the init is done: lambdarouter/http/function.py

from mangum import Mangum  # noqa: E402

from lambdarouter.http.function import function_app  # noqa: E402

handler = Mangum(function_app(["keys", "credits", "usage"]), lifespan="off")
