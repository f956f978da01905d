"""Kept-alive HTTP(S) connections to one AWS endpoint, from the standard library's `http.client`.

Why not httpx (what the provider calls use): the key and management functions call DynamoDB but no provider,
and httpx with httpcore, h11 and certifi costs them ~100 ms of CPU to import on a cold start where
`http.client` (with `ssl`, which both need) is already most of the way there. The calls are synchronous (the
store runs them in worker threads), one request at a time per connection, so a pool is a list of idle
connections: a call takes one (or opens one), reads the whole answer, and puts it back unless the server said
it would close it.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from functools import cache
from typing import NamedTuple
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@cache
def tls_context() -> ssl.SSLContext:
    """The system's CA store (Lambda's images carry Amazon's roots), built once per process."""
    return ssl.create_default_context()


class Pool:
    def __init__(self, url: str, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT) -> None:
        parts = urlsplit(url)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.secure else 80)
        # The Host header as signed: without the scheme's default port, as clients send it.
        default = 443 if self.secure else 80
        self.netloc = self.host if self.port == default else f"{self.host}:{self.port}"
        self.path = parts.path or "/"
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """What the first connection needs and costs only CPU (a function's init builds it)."""
        if self.secure:
            tls_context()

    def _open(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self.secure:
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout,
                                                     context=tls_context())
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(self.read_timeout)
        return connection

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._open(), False

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """One POST to the endpoint's path. An idle connection the server had closed meanwhile is replaced once
        (nothing reached the server on it); any other failure is the caller's `OSError` or `HTTPException`."""
        connection, reused = self._take()
        try:
            return self._exchange(connection, body, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
        return self._exchange(self._open(), body, headers)

    def _exchange(self, connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            connection.request("POST", self.path, body, headers)
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.append(connection)
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
