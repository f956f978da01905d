"""Where routes find the `Gateway`: injected by tests, else the process-wide default."""

from __future__ import annotations

from starlette.requests import Request

from lambdarouter.gateway.service import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway | None = getattr(request.app.state, "gateway", None)
    if gateway is None:
        from lambdarouter.http.context import default_gateway

        gateway = request.app.state.gateway = default_gateway()
    return gateway
