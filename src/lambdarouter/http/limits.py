"""Header size limit, checked before any route runs.

uvicorn accepts very large header blocks; API Gateway refuses requests whose headers pass 10 KB per header
(https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). Locally and behind the Web
Adapter the gateway refuses what API Gateway would, with its own envelope.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_HEADER_BYTES = 32 * 1024


class HeaderLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(len(k) + len(v) for k, v in scope["headers"]) > self.max_bytes:
            body = json.dumps({"error": {"code": 431, "message": f"Request headers exceed {self.max_bytes} bytes.",
                                         "type": "invalid_request_error"}}).encode()
            await send({"type": "http.response.start", "status": 431,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
