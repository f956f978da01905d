"""The calling key's own view: GET /key and GET /generation?id=.

Both authenticate a gateway key and only read (the key from the keys table, a generation from the usage
table), so they share one function with a read-only role and no access to the secret. Applications call
/generation right after a completion to read its cost: sharing a container with /key keeps it warm.
"""

from mangum import Mangum

from lambdarouter.http.app import create_app

handler = Mangum(create_app(["key", "generation"]), lifespan="off")
