"""Route groups a function serves but loads on their first request: the route table known up front, the module
(its schemas, its dialect, its operation) imported when a request first reaches one of its routes.

The chat function serves four dialects; a cold start of its main route (/chat/completions) should not import the
other three (Anthropic's Messages API, the Responses API, legacy completions: ~60 ms of its cold start, measured with
`python -m bench`), and each of them, when it is the first request, pays its own import and nothing more. The paths
and methods are declared here, in the order of the module's ROUTES; tests/test_function_imports.py holds the two
equal. The real route's own ASGI app answers (Starlette's request/response wrapper of its endpoint), so a deferred
route behaves exactly as the eager one once loaded.
"""

from __future__ import annotations

from importlib import import_module

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

# Group -> (path, methods) of each route, in the order of the group module's ROUTES (http/app.py: ROUTE_GROUPS).
DEFERRED_ROUTES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "completions": (("/completions", ("POST",)),),
    "messages": (("/messages", ("POST",)), ("/messages/count_tokens", ("POST",))),
    "responses": (("/responses", ("POST",)), ("/responses/{response_id}", ("GET", "DELETE"))),
    "images": (("/images/generations", ("POST",)), ("/images", ("POST",))),
}


class LoadedOnFirstRequest:
    """The ASGI app of a group module's `ROUTES[index]`, imported by the first request that needs it."""

    def __init__(self, module: str, index: int) -> None:
        self.module, self.index = module, index
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            route: Route = import_module(self.module).ROUTES[self.index]
            self._app = route.app
        await self._app(scope, receive, send)


def deferred_routes(module: str, group: str) -> list[Route]:
    """Routes with the paths and methods of `group`, each loading its module on its first request."""
    return [Route(path, LoadedOnFirstRequest(module, index), methods=list(methods))
            for index, (path, methods) in enumerate(DEFERRED_ROUTES[group])]
