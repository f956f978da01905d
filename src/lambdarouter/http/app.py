"""The app factory: every route under `/api/v1` and `/v1`, or only the groups one function serves."""

from __future__ import annotations

from collections.abc import Collection
from importlib import import_module
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Mount

from lambdarouter.core.errors import GatewayError
from lambdarouter.http.deferred import DEFERRED_ROUTES, deferred_routes
from lambdarouter.http.errors import on_gateway_error, on_http_exception, on_store_unavailable, on_unexpected
from lambdarouter.http.limits import HeaderLimit
from lambdarouter.http.observability import instrument
from lambdarouter.store.errors import StoreUnavailable

if TYPE_CHECKING:  # the service pulls in the adapters: only inference functions need it
    from starlette.types import Lifespan

    from lambdarouter.gateway.service import Gateway

# Route group → the module holding its `ROUTES`; imported only when a function serves it.
ROUTE_GROUPS: dict[str, str] = {
    "chat_completions": "lambdarouter.http.chat",
    "embeddings": "lambdarouter.http.embeddings",
    "images": "lambdarouter.http.image_generations",
    "completions": "lambdarouter.http.completions",
    "messages": "lambdarouter.http.messages",  # Anthropic's Messages API: errors in Anthropic's shape
    "responses": "lambdarouter.http.responses",
    "models": "lambdarouter.http.models",
    "health": "lambdarouter.http.health",
    "openapi": "lambdarouter.http.openapi_route",  # the document itself is built by the first GET
    # Control routes: store only, never the service (see http/control.py).
    "keys": "lambdarouter.http.keys",  # management key
    "credits": "lambdarouter.http.credits",  # management key
    "key": "lambdarouter.http.key",
    "generation": "lambdarouter.http.generation",
    "usage": "lambdarouter.http.usage",  # management key: usage series, request log, configured hosts
    "dashboard": "lambdarouter.http.dashboard",  # static page; it calls the admin routes with the key
}
PREFIXES = ("/api/v1", "/v1")


def create_app(groups: Collection[str] | None = None, *, gateway: Gateway | None = None,
               lifespan: Lifespan[Starlette] | None = None, deferred: Collection[str] = ()) -> Starlette:
    """An app with the named route groups (all when None); `gateway` replaces the default (tests); `lifespan`
    for a long-running server (`lambdarouter serve`; the Lambda handlers run with Mangum's lifespan off);
    `deferred` groups are served too, their modules imported by their first request (http/deferred.py)."""
    chosen = list(ROUTE_GROUPS) if groups is None else list(groups)
    unknown = (set(chosen) | set(deferred)) - set(ROUTE_GROUPS)
    if unknown or set(chosen) & set(deferred) or set(deferred) - DEFERRED_ROUTES.keys():
        raise ValueError(f"unknown, repeated or not deferrable route groups: {sorted(chosen)}, {sorted(deferred)}")
    routes: list[BaseRoute] = []
    for group in chosen:
        routes.extend(import_module(ROUTE_GROUPS[group]).ROUTES)
    for group in deferred:
        routes.extend(deferred_routes(ROUTE_GROUPS[group], group))
    app = Starlette(
        routes=[Mount(prefix, routes=routes) for prefix in PREFIXES],
        exception_handlers={GatewayError: on_gateway_error, HTTPException: on_http_exception,
                            StoreUnavailable: on_store_unavailable, Exception: on_unexpected},
        lifespan=lifespan,
    )
    if gateway is not None:
        app.state.gateway = gateway
        app.state.catalog = gateway.catalog
    app.add_middleware(HeaderLimit)
    instrument(app)  # CORS when configured; logs, metrics and traces on AWS (lambdarouter.http.observability)
    return app
