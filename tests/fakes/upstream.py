"""A scripted fake provider upstream: a real HTTP/1.1 server on 127.0.0.1 in a background thread.

It is built on the standard library (``http.server`` + ``socketserver``) rather than uvicorn so that it
has full control over the socket: it can stream chunks with real time gaps (one chunked-transfer chunk
per write, no buffering), drop the TCP connection before answering (RST), or cut a streamed body short.

Typical use::

    with FakeUpstream() as up:
        up.reply(Reply.from_recording(load_recording("openai/text-stream"), chunk_delay=0.05))
        ...  # point the code under test at up.url
        assert up.requests[0].json()["stream"] is True
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

from tests.fakes.recordings import Recording

_SSE_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n){2}")
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
HEADERS = -1  # the gate key that holds the status line and headers (see Reply.gates)
GATE_LIMIT = 60.0  # seconds a gate is waited for at most: only a test that never opens it (or a hung one) meets it
NEVER = threading.Event()  # a gate no one opens: the upstream stalls until the client leaves (never set it)


def split_sse_events(data: bytes) -> list[bytes]:
    """Split an SSE body after each blank line (LF, CRLF or CR line endings); pieces join back to ``data``."""
    chunks: list[bytes] = []
    start = 0
    for match in _SSE_EVENT_END.finditer(data):
        chunks.append(data[start : match.end()])
        start = match.end()
    if start < len(data):
        chunks.append(data[start:])
    return chunks


def split_eventstream_frames(data: bytes) -> list[bytes]:
    """Split an AWS event stream at frame boundaries (each frame starts with its 4-byte big-endian length)."""
    frames: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 16:
            raise ValueError(f"truncated event-stream frame at offset {pos}")
        (total,) = struct.unpack(">I", data[pos : pos + 4])
        if total < 16 or pos + total > len(data):
            raise ValueError(f"bad event-stream frame length {total} at offset {pos}")
        frames.append(data[pos : pos + total])
        pos += total
    return frames


@dataclass(frozen=True)
class Reply:
    """One scripted response.

    Give either ``body`` (sent with Content-Length) or ``chunks`` (sent with chunked transfer encoding,
    one chunk per write, ``chunk_delay`` seconds apart). Fault switches:

    * ``stall``: seconds to sleep before sending the status line/headers.
    * ``reset_before_headers``: read the request, then drop the TCP connection (RST) without answering.
    * ``reset_after_chunks``: send the headers and that many chunks, then close the connection without
      the terminating chunk, so the client sees a truncated body. (A plain FIN, not RST, so the bytes
      already sent are never discarded by the client's kernel.) A ``body`` reply counts as one chunk and
      is then sent chunked, too.

    Events instead of time, for tests that must hold on a busy machine:

    * ``gates``: ``{i: event}`` sends chunk ``i`` only once ``event`` is set (``HEADERS``: the status line and
      headers; a ``body`` reply is chunk 0). A gate never set is an upstream that stalls until the client gives
      up: the wait ends when the client closes the connection (counted in ``disconnects``), or after
      ``GATE_LIMIT``.
    * ``sent``: set once the reply is fully written (or cut short as scripted).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    reset_before_headers: bool = False
    reset_after_chunks: int | None = None
    stall: float = 0.0
    gates: Mapping[int, threading.Event] = field(default_factory=dict)
    sent: threading.Event | None = None

    def __post_init__(self) -> None:
        if self.chunks is not None and self.body:
            raise ValueError("Reply: give either body or chunks, not both")
        if self.reset_after_chunks is not None and self.reset_after_chunks < 0:
            raise ValueError("Reply: reset_after_chunks must be >= 0")
        if self.chunk_delay < 0 or self.stall < 0:
            raise ValueError("Reply: chunk_delay and stall must be >= 0")

    @property
    def payload(self) -> bytes:
        """All body bytes (joined chunks)."""
        return b"".join(self.chunks) if self.chunks is not None else self.body

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A compact JSON body (raw UTF-8) with ``content-type: application/json`` (overridable via ``headers``)."""
        return cls(
            status=status,
            headers={"content-type": "application/json", **(headers or {})},
            body=json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        )

    @classmethod
    def sse(
        cls,
        events: list[str] | list[bytes],
        chunk_delay: float = 0.0,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Stream the given raw SSE events (each should end with its blank line) one chunk per event."""
        chunks = [e.encode("utf-8") if isinstance(e, str) else e for e in events]
        return cls(
            status=status,
            headers={"content-type": "text/event-stream", **(headers or {})},
            chunks=chunks,
            chunk_delay=chunk_delay,
        )

    @classmethod
    def from_recording(cls, rec: Recording, chunk_delay: float = 0.0) -> Reply:
        """Replay a recording: its status, all recorded response headers, and the exact recorded bytes.

        SSE bodies stream one event per chunk (CRLF-aware); Bedrock event streams one binary frame per
        chunk; everything else is a single body with Content-Length.
        """
        headers = dict(rec.response_headers)
        data = rec.body_bytes()
        if rec.is_eventstream:
            return cls(rec.status, headers, chunks=split_eventstream_frames(data), chunk_delay=chunk_delay)
        if rec.is_sse:
            return cls(rec.status, headers, chunks=split_sse_events(data), chunk_delay=chunk_delay)
        return cls(rec.status, headers, body=data)


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as the fake upstream received it.

    ``path`` is percent-decoded (like ASGI's ``scope["path"]``; what path matching uses), ``raw_path``
    is exactly as sent (e.g. botocore sends ``:`` in Bedrock model ids as ``%3A``). ``headers`` has
    lower-case names; repeated headers are joined with ``", "``.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""
    client_port: int = 0  # the client's side of the connection: requests on one connection share it

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Scripted:
    reply: Reply
    path: str | None
    pattern: re.Pattern[str] | None
    remaining: int

    def matches(self, path: str) -> bool:
        if self.pattern is not None:
            return self.pattern.search(path) is not None
        return self.path is None or self.path == path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Flush every write at once (headers, each chunk): no Nagle / delayed-ACK 40 ms stalls.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        upstream = self.server.upstream
        raw_path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = ReceivedRequest(
            method=self.command,
            path=unquote(raw_path),
            query=query,
            headers=headers,
            body=self._read_body(),
            raw_path=raw_path,
            client_port=int(self.client_address[1]),
        )
        reply = upstream._record_and_pick(request)
        try:
            self._send(reply)
        finally:
            if reply.sent is not None:
                reply.sent.set()

    def _wait_for_gate(self, reply: Reply, index: int) -> None:
        """Until the gate opens; ConnectionResetError (a disconnect) when the client leaves meanwhile."""
        gate = reply.gates.get(index)
        if gate is None:
            return
        deadline = time.monotonic() + GATE_LIMIT
        while not gate.wait(0.02) and time.monotonic() < deadline and not self.server.stop_event.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                raise ConnectionResetError("the client closed the connection while the reply was held")

    def _send(self, reply: Reply) -> None:
        stop = self.server.stop_event
        if reply.stall and stop.wait(reply.stall):
            self._abort()
            return
        self._wait_for_gate(reply, HEADERS)
        if reply.reset_before_headers:
            self._abort()
            return
        chunked = reply.chunks is not None or reply.reset_after_chunks is not None
        chunks = reply.chunks if reply.chunks is not None else [reply.body]
        self.send_response_only(reply.status)
        for name, value in reply.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if not chunked:
            self._wait_for_gate(reply, 0)
            self.wfile.write(reply.body)
            return
        stopped = False
        for index, chunk in enumerate(chunks):
            if reply.reset_after_chunks is not None and index >= reply.reset_after_chunks:
                break
            if index > 0 and reply.chunk_delay and stop.wait(reply.chunk_delay):
                stopped = True
                break
            self._wait_for_gate(reply, index)
            if chunk:  # an empty chunk would be the end-of-body marker
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if reply.reset_after_chunks is None and not stopped:
            self.wfile.write(b"0\r\n\r\n")
            return
        # Cut the body short (after one more chunk_delay, as if the next chunk never came): close
        # without the terminating chunk.
        if reply.chunk_delay and not stopped:
            stop.wait(reply.chunk_delay)
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _abort(self) -> None:
        """Drop the connection with a TCP RST and nothing sent."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the makefile() reader holds a reference that would keep the fd open
        self.connection.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    timeout = 0.05  # accept-loop poll interval, bounds stop()

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self.stop_event = threading.Event()
        self.conn_lock = threading.Lock()
        self.connections: dict[threading.Thread, socket.socket] = {}
        super().__init__(("127.0.0.1", 0), _Handler)

    def serve_until_stopped(self) -> None:
        while not self.stop_event.is_set():
            self.handle_request()  # returns after self.timeout when nothing connects

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="fake-upstream-conn",
            daemon=True,
        )
        with self.conn_lock:
            self.connections[thread] = request
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.conn_lock:
                self.connections.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError) and self.stop_event.is_set():
            return
        if isinstance(exc, ConnectionError | TimeoutError):
            with self.upstream._lock:
                self.upstream._disconnects += 1  # the client went away mid-response (tests may check it did)
            return
        with self.upstream._lock:
            self.upstream._errors.append(traceback.format_exc())

    def close_all(self, timeout: float) -> None:
        with self.conn_lock:
            live = dict(self.connections)
        for sock in live.values():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in live:
            thread.join(max(0.0, deadline - time.monotonic()))


class FakeUpstream:
    """A real HTTP server on ``127.0.0.1:<ephemeral>`` answering with scripted :class:`Reply` objects.

    ``reply()`` queues responses; each request takes the first queued entry whose path filter matches
    (FIFO), else ``default``, else a ``500 {"error": "fake upstream: nothing queued for <path>"}``.
    Every request is recorded in ``requests`` (in arrival order) before it is answered.
    """

    def __init__(self) -> None:
        self.default: Reply | None = None
        self._lock = threading.Lock()
        self._queue: list[_Scripted] = []
        self._requests: list[ReceivedRequest] = []
        self._errors: list[str] = []
        self._disconnects = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, timeout: float = 5.0) -> Self:
        """Start serving; returns once the server accepts TCP connections."""
        if self._server is not None:
            raise RuntimeError("FakeUpstream already started")
        server = _Server(self)
        thread = threading.Thread(target=server.serve_until_stopped, name="fake-upstream", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        try:
            host, port = self.address
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with socket.create_connection((host, port), timeout=1.0):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close open connections; bounded by ``timeout`` seconds (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.stop_event.set()  # ends the accept loop and wakes any stall/chunk_delay
        thread.join(timeout)
        server.close_all(timeout)
        server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("FakeUpstream is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        host, port = self.address
        return f"http://{host}:{port}"

    # -- scripting -------------------------------------------------------------------------------------
    def reply(self, response: Reply, path: str | None = None, times: int = 1) -> None:
        """Queue ``response`` for the next ``times`` requests whose path matches ``path``.

        ``path`` is compared to the percent-decoded request path without the query: exact match, or a
        regex (``re.search``) when it starts with ``^``. ``None`` matches any path.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        pattern = re.compile(path) if path is not None and path.startswith("^") else None
        with self._lock:
            self._queue.append(_Scripted(response, path, pattern, times))

    def reply_recording(
        self, rec: Recording, chunk_delay: float = 0.0, path: str | None = None, times: int = 1
    ) -> None:
        """Shorthand for ``reply(Reply.from_recording(rec, chunk_delay), path, times)``."""
        self.reply(Reply.from_recording(rec, chunk_delay=chunk_delay), path=path, times=times)

    def pending(self) -> int:
        """How many queued replies have not been used yet (counting ``times``)."""
        with self._lock:
            return sum(entry.remaining for entry in self._queue)

    def reset(self) -> None:
        """Forget queued replies, received requests, server errors, and ``default``."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._errors.clear()
            self.default = None

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of the received requests, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> int:
        """How many responses were cut short because the client closed the connection."""
        with self._lock:
            return self._disconnects

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected exceptions inside the server (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def iter_requests(self, path: str) -> Iterator[ReceivedRequest]:
        """Received requests whose decoded path equals ``path`` (or matches it, if it starts with ``^``)."""
        pattern = re.compile(path) if path.startswith("^") else None
        for req in self.requests:
            if (pattern.search(req.path) is not None) if pattern else req.path == path:
                yield req

    def _record_and_pick(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            for index, entry in enumerate(self._queue):
                if entry.matches(request.path):
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        del self._queue[index]
                    return entry.reply
            if self.default is not None:
                return self.default
        return Reply.json({"error": f"fake upstream: nothing queued for {request.path}"}, status=500)
