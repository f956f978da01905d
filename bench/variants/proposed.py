"""`lambdarouter serve` with the src/ changes docs/performance.md proposes, applied as patches: an A/B of
them before anyone edits src/.

    .venv/bin/pip install --target bench/.ab-site uvloop httptools aiohttp     # once (git-ignored)
    .venv/bin/python -m bench --gateway-launcher bench/variants/proposed.py --output /tmp/proposed.json
    BENCH_VARIANT=aiohttp,endmarker .venv/bin/python -m bench --gateway-launcher ...

BENCH_VARIANT picks the changes (comma-separated; default all five). It is not a LAMBDAROUTER_ name on
purpose: the harness does not pass those on to the servers it starts.

- `uvloop`, `httptools`: importable, so uvicorn's `auto` event loop / HTTP parser picks them (both are
  what `uvicorn[standard]` adds);
- `inline`: the chat route's and the service's store calls on the event loop instead of anyio worker
  threads (for the SQLite store, whose calls take microseconds; DynamoDB's must stay off the loop);
- `aiohttp`: the upstream calls (`providers/transport.send` / `open_stream`) through one
  `aiohttp.ClientSession` per loop instead of the `httpx.AsyncClient`;
- `endmarker`: `http/chat.sse()` with an unbounded queue, so its end-of-stream marker is never dropped
  (the bug: `put_nowait(None)` under `suppress(QueueFull)` loses it when the 16-slot queue is full, and
  the stream then never ends; the other changes make the queue fill more often).

These are patches of private names, for measuring only: they break as src/ changes, and say so.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import types
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

SITE = Path(__file__).resolve().parent.parent / ".ab-site"
ALL = ("uvloop", "httptools", "inline", "aiohttp", "endmarker")


def _shim(module: types.ModuleType, **overrides: Any) -> types.SimpleNamespace:
    """A stand-in for `module` in one importer's namespace: the same attributes but for `overrides`."""
    return types.SimpleNamespace(**{**{k: getattr(module, k) for k in dir(module) if not k.startswith("__")},
                                    **overrides})


def inline_store_calls() -> None:
    import anyio

    async def run_sync(func: Callable[..., Any], *args: Any, **_kwargs: Any) -> Any:
        return func(*args)

    chat = importlib.import_module("lambdarouter.http.chat")
    service = importlib.import_module("lambdarouter.service")
    for module in (chat, service):
        module.anyio = _shim(anyio, to_thread=types.SimpleNamespace(run_sync=run_sync))  # type: ignore[attr-defined]


def keep_end_marker() -> None:
    chat = importlib.import_module("lambdarouter.http.chat")

    def unbounded(maxsize: int = 0) -> asyncio.Queue[Any]:
        return asyncio.Queue()

    chat.asyncio = _shim(asyncio, Queue=unbounded)  # type: ignore[attr-defined]


def aiohttp_transport() -> None:
    aiohttp: Any = importlib.import_module("aiohttp")
    errors = importlib.import_module("lambdarouter.errors")
    transport = importlib.import_module("lambdarouter.providers.transport")
    sessions: dict[int, Any] = {}

    def session() -> Any:
        loop_id = id(asyncio.get_running_loop())
        existing = sessions.get(loop_id)
        if existing is None or existing.closed:
            existing = sessions[loop_id] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300))
        return existing

    def failed(exc: Exception, provider: str) -> Exception:
        error: Exception = errors.GatewayError(502, f"{provider}: could not reach the provider "
                                                    f"({type(exc).__name__}).",
                                               metadata={"provider_name": provider}, retryable=True)
        return error

    async def send(request: Any, adapter: Any, provider: str, timeouts: Any = None) -> bytes:
        try:
            async with session().request(request.method, request.url, headers=request.headers,
                                         data=request.body) as response:
                body: bytes = await response.read()
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise failed(exc, provider) from None
        if status >= 400:
            raise transport._redacted(adapter.map_error(status, headers, body, provider), request)
        return body

    @asynccontextmanager
    async def open_stream(request: Any, adapter: Any, provider: str,
                          timeouts: Any = None) -> AsyncIterator[AsyncIterator[bytes]]:
        try:
            response = await session().request(request.method, request.url, headers=request.headers,
                                               data=request.body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise failed(exc, provider) from None
        try:
            if response.status >= 400:
                body = await response.read()
                raise transport._redacted(adapter.map_error(response.status, response.headers, body, provider),
                                          request)

            async def pieces() -> AsyncIterator[bytes]:
                async for piece in response.content.iter_any():
                    yield piece

            yield pieces()
        finally:
            response.release()

    transport.send = send  # type: ignore[attr-defined]
    transport.open_stream = open_stream  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    chosen = [c.strip() for c in os.environ.get("BENCH_VARIANT", ",".join(ALL)).split(",") if c.strip()]
    unknown = set(chosen) - set(ALL)
    if unknown:
        raise SystemExit(f"unknown variant parts {sorted(unknown)}; known: {', '.join(ALL)}")
    if {"uvloop", "httptools", "aiohttp"} & set(chosen):
        if not SITE.is_dir():
            raise SystemExit(f"{SITE} is missing: .venv/bin/pip install --target {SITE} uvloop httptools aiohttp")
        sys.path.insert(0, str(SITE))
    for name in ("uvloop", "httptools"):
        if name not in chosen:  # the site directory holds both: hide this one from uvicorn's `auto`
            sys.modules[name] = None  # type: ignore[assignment]
    for part, patch in (("inline", inline_store_calls), ("endmarker", keep_end_marker),
                        ("aiohttp", aiohttp_transport)):
        if part in chosen:
            patch()
    print(f"bench variant: {', '.join(chosen) or 'none'}", file=sys.stderr, flush=True)
    from lambdarouter.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
