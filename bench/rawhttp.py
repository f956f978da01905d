"""A minimal HTTP/1.1 client on asyncio streams: the load generator's cheap path.

Why not httpx for the load: on this kind of machine (2 cores shared by the client, the server and the
fake upstream) an `httpx.AsyncClient` spends ~0.5 ms of CPU per request at concurrency 1 and ~2 ms at
concurrency 32 (its connection pool scans every connection on every request), so at concurrency 32 the
client, not the server, was the bottleneck: the fake upstream alone "did" ~470 requests/s. This client
costs a small fraction of that, so concurrent and throughput figures measure the servers.

Scope, on purpose: one keep-alive connection per worker per server (no pool: a worker's requests are
sequential), `Content-Length` and `chunked` response bodies, reconnect when the server closes. It speaks
to the harness's own servers only (the gateway, the LiteLLM proxy, the fake upstream), never to the
network at large.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 100_000


class HTTPFailure(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Request:
    host: str
    port: int
    head: bytes  # request line and headers, ready to send
    stream_head: bytes
    body: bytes
    stream_body: bytes

    @classmethod
    def build(cls, url: str, headers: dict[str, str], body: bytes, stream_body: bytes) -> Request:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"rawhttp speaks plain http with an explicit port: {url}")

        def head(content: bytes, accept: str) -> bytes:
            lines = [f"POST {parts.path} HTTP/1.1", f"host: {parts.hostname}:{parts.port}",
                     f"content-length: {len(content)}"]
            lines += [f"{k}: {v}" for k, v in {**headers, "accept": accept}.items()
                      if k.lower() not in ("host", "content-length")]
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

        return cls(parts.hostname, parts.port, head(body, "application/json"), head(stream_body, "text/event-stream"),
                   body, stream_body)


@dataclass(slots=True)
class Connection:
    """One keep-alive connection, opened on first use and again after the server closed it."""

    host: str
    port: int
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    _pending: bytes = field(default=b"")

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def _head(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HTTPFailure("response headers too large") from None
        if len(raw) > MAX_HEADER_BYTES:
            raise HTTPFailure("response headers too large")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def _pieces(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> AsyncIterator[bytes]:
        """The response body as it arrives (chunked) or whole (Content-Length)."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            for _ in range(MAX_CHUNKS):
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers from these servers: the final CRLF
                    return
                if size > MAX_BODY_BYTES:
                    raise HTTPFailure("chunk too large")
                data = await reader.readexactly(size + 2)
                yield data[:-2]
            raise HTTPFailure(f"more than {MAX_CHUNKS} chunks")
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY_BYTES:
            raise HTTPFailure("body too large")
        yield await reader.readexactly(length)

    async def _send(self, head: bytes, body: bytes) -> tuple[asyncio.StreamReader, int, dict[str, str]]:
        for attempt in range(2):  # a kept-alive connection the server closed meanwhile: once more, fresh
            reader, writer = await self._open()
            try:
                writer.write(head + body)
                await writer.drain()
                status, headers = await self._head(reader)
                return reader, status, headers
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _done(self, headers: dict[str, str]) -> None:
        if headers.get("connection", "").lower() == "close" and self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def completion(self, request: Request) -> tuple[int, bytes]:
        reader, status, headers = await self._send(request.head, request.body)
        body = b"".join([piece async for piece in self._pieces(reader, headers)])
        self._done(headers)
        return status, body

    async def stream(self, request: Request) -> tuple[int, list[float], float | None, float]:
        """(status, perf_counter stamps of each `data:` line with content, stamp of `[DONE]`, start)."""
        start = time.perf_counter()
        reader, status, headers = await self._send(request.stream_head, request.stream_body)
        stamps: list[float] = []
        done: float | None = None
        buffer = b""
        async for piece in self._pieces(reader, headers):
            now = time.perf_counter()
            buffer += piece
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"data:"):
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        done = now
                    elif status == 200 and _has_content(data):
                        stamps.append(now)
        self._done(headers)
        return status, stamps, done, start


def _has_content(data: bytes) -> bool:
    chunk = json.loads(data)
    choices = chunk.get("choices") or []
    return bool(choices and (choices[0].get("delta") or {}).get("content"))
