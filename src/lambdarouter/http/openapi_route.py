"""GET /openapi.json: the route alone. The document (http/openapi.py) is built by the first GET and then cached, not
when a function starts: building it imports the schemas of every dialect and route (~80 ms of the catalog function's
cold start, measured with `python -m bench`), which none of that function's other routes needs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def openapi(_: Request) -> Response:
    from lambdarouter.http.openapi import document

    return Response(document(), media_type="application/json")


ROUTES = [Route("/openapi.json", openapi, methods=["GET"])]
