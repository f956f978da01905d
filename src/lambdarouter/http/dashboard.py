"""GET /dashboard and its two assets: a dependency-free page (src/lambdarouter/admin/dashboard) over the admin API.

The page holds the management key in its own memory or sessionStorage and sends it as a bearer header,
so these routes need no auth: they serve the same static bytes to everyone. Assets are referenced with
relative URLs (`dashboard/app.js`), so the page works under an API Gateway stage prefix
(`/prod/api/v1/dashboard`) as well as locally; `/dashboard/` redirects to `/dashboard` for the same reason.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from lambdarouter.core.errors import GatewayError

ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "charts.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
# Only this origin's script, styles and API; no framing (clickjacking the key management buttons).
HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


@cache
def asset(name: str) -> bytes:
    return files("lambdarouter").joinpath("admin", "dashboard", name).read_bytes()


async def page(_: Request) -> Response:
    return Response(asset("index.html"), media_type=ASSETS["index.html"], headers=HEADERS)


async def slash(_: Request) -> Response:
    # Relative, so the stage prefix is kept: /prod/api/v1/dashboard/ -> /prod/api/v1/dashboard
    return RedirectResponse("../dashboard", status_code=308)


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS or name == "index.html":
        raise GatewayError(404, "No such route.")
    return Response(asset(name), media_type=ASSETS[name], headers=HEADERS)


ROUTES = [
    Route("/dashboard", page, methods=["GET", "HEAD"]),
    Route("/dashboard/", slash, methods=["GET", "HEAD"]),
    Route("/dashboard/{name}", static, methods=["GET", "HEAD"]),
]

_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
# Merged into GET /openapi.json by http/openapi.py.
OPERATIONS: dict[str, dict[str, Any]] = {
    "/dashboard": {"get": {"operationId": "dashboard", "responses": {"200": {"description": "The page", **_HTML}}}},
    "/dashboard/": {"get": {"operationId": "dashboardSlash", "responses": {
        "308": {"description": "Redirect to ../dashboard (relative, keeping any stage prefix)"}}}},
    "/dashboard/{name}": {"get": {"operationId": "dashboardAsset", "parameters": [
        {"name": "name", "in": "path", "required": True, "schema": {"enum": [n for n in ASSETS if n != "index.html"]}}],
        "responses": {"200": {"description": "A script or style sheet of the page"},
                      "404": {"description": "No such asset", "content": {"application/json": {"schema": {
                          "$ref": "#/components/schemas/ErrorResponse"}}}}}}},
}
