"""The calling key's own view: GET /key and GET /generation?id=.

Both authenticate a gateway key and only read (the key from the keys table, a generation from the usage
table), so they share one function with a read-only role and no access to the secret. Applications call
/generation right after a completion to read its cost: sharing a container with /key keeps it warm.
"""

import gc

gc.disable()  # on again, frozen, once the init is done: lambdarouter/http/function.py

from mangum import Mangum  # noqa: E402

from lambdarouter.http.function import function_app  # noqa: E402

handler = Mangum(function_app(["key", "generation"]), lifespan="off")
