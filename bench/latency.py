"""Load on a server from asyncio workers: paired added latency, throughput, long runs.

Every worker has its own keep-alive connection to each server (bench/rawhttp.py: a minimal HTTP/1.1
client, because httpx's own CPU cost made the client the bottleneck at concurrency 32; see there).

- Paired (added latency): each of N workers sends the same request straight to the fake upstream and to
  the server under test (the gateway, or LiteLLM's proxy) back to back, alternating which goes first
  (A B, B A, ...) so neither side always runs right after the other; added = other - direct per pair.
  N = 1 is the classic interleaved measurement; N = 32 puts 32 such pairs in flight at once.
- Throughput: a fixed number of requests from N workers; requests per second over the wall time, the
  latency of each request, and the server's CPU time per request.
- Long runs (memory): a fixed number of requests, one in `stream_every` streamed, in segments.

Every loop is bounded by a request count; every request by the client's timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.rawhttp import Connection, HTTPFailure, Request
from bench.stats import summary

UPSTREAM_MODEL = "gpt-4o"
GATEWAY_MODEL = "openai/gpt-4o"
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]
REQUEST_TIMEOUT = 30.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    body: bytes
    stream_body: bytes
    headers: dict[str, str]
    request: Request


def chat_bodies(model: str) -> tuple[bytes, bytes]:
    """The benchmark's chat request (non-streamed, streamed): the same everywhere but for the model id."""
    request: dict[str, Any] = {"model": model, "messages": MESSAGES, "max_tokens": 32, "temperature": 0}
    return json.dumps(request).encode(), json.dumps({**request, "stream": True}).encode()


def make_target(name: str, base_url: str, model: str, token: str,
                extra_headers: dict[str, str] | None = None) -> Target:
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}", **(extra_headers or {})}
    url = f"{base_url}/chat/completions"
    body, stream_body = chat_bodies(model)
    return Target(name, url, body, stream_body, headers, Request.build(url, headers, body, stream_body))


class RequestFailed(RuntimeError):
    pass


class Session:
    """One worker's connections: one keep-alive connection per server."""

    def __init__(self) -> None:
        self._connections: dict[tuple[str, int], Connection] = {}

    def to(self, target: Target) -> Connection:
        key = (target.request.host, target.request.port)
        found = self._connections.get(key)
        if found is None:
            found = self._connections[key] = Connection(*key)
        return found

    async def close(self) -> None:
        for connection in self._connections.values():
            await connection.close()
        self._connections.clear()


class Client:
    """Sessions for up to N workers, kept across phases (connections stay open); closed at the end."""

    def __init__(self) -> None:
        self._sessions: list[Session] = []

    def session(self, index: int) -> Session:
        while len(self._sessions) <= index:  # bounded by the number of workers asked for
            self._sessions.append(Session())
        return self._sessions[index]

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        for session in self._sessions:
            await session.close()
        self._sessions.clear()


def new_client(_connections: int = 0) -> Client:
    return Client()


# -- one request ------------------------------------------------------------------------------------------


async def timed_completion(session: Session, target: Target) -> float:
    """Seconds from sending the request to having read the whole answer."""
    start = time.perf_counter()
    status, body = await asyncio.wait_for(session.to(target).completion(target.request), REQUEST_TIMEOUT)
    elapsed = time.perf_counter() - start
    if status != 200:
        raise RequestFailed(f"{target.name}: HTTP {status}: {body[:500]!r}")
    return elapsed


@dataclass(frozen=True, slots=True)
class StreamTiming:
    first_content: float  # seconds from sending to the first `data:` line with content
    inter_chunk: float  # mean seconds between consecutive content lines (0 with one content line)
    content_chunks: int
    whole: float  # seconds to `data: [DONE]`


async def timed_stream(session: Session, target: Target) -> StreamTiming:
    """Time to the first content line, mean gap between content lines, time to `[DONE]`."""
    status, stamps, done, start = await asyncio.wait_for(session.to(target).stream(target.request), REQUEST_TIMEOUT)
    if status != 200:
        raise RequestFailed(f"{target.name}: HTTP {status} to a streamed request")
    if not stamps or done is None:
        raise RequestFailed(f"{target.name}: stream without content or without [DONE]")
    gaps = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else 0.0
    return StreamTiming(stamps[0] - start, gaps, len(stamps), done - start)


async def answer_text(session: Session, target: Target) -> str:
    status, body = await asyncio.wait_for(session.to(target).completion(target.request), REQUEST_TIMEOUT)
    if status != 200:
        raise RequestFailed(f"{target.name}: HTTP {status}: {body[:500]!r}")
    content: str = json.loads(body)["choices"][0]["message"]["content"]
    return content


async def check_answers(client: Client, direct: Target, other: Target) -> None:
    """Both answer 200 with the same text (and both stream it), so the timings compare like with like."""
    session = client.session(0)
    texts = [await answer_text(session, direct), await answer_text(session, other)]
    if texts[0] != texts[1]:
        raise RuntimeError(f"{other.name} answered {texts[1]!r}, the upstream {texts[0]!r}")
    for target in (direct, other):
        await timed_stream(session, target)


# -- pairs ------------------------------------------------------------------------------------------------


async def _pairs(client: Client, direct: Target, other: Target,
                 measure: Callable[[Session, Target], Awaitable[T]], count: int,
                 concurrency: int) -> tuple[list[T], list[T]]:
    """`count` pairs from `concurrency` workers; each pair in one worker slot, order alternating."""
    direct_out: list[T] = []
    other_out: list[T] = []
    claimed = 0

    async def worker(session: Session) -> None:
        nonlocal claimed
        while claimed < count:  # bounded: every turn claims one of `count` pairs
            index = claimed
            claimed += 1
            if index % 2 == 0:
                a = await measure(session, direct)
                b = await measure(session, other)
            else:
                b = await measure(session, other)
                a = await measure(session, direct)
            direct_out.append(a)
            other_out.append(b)

    await asyncio.gather(*(worker(client.session(i)) for i in range(min(concurrency, max(count, 1)))))
    return direct_out, other_out


async def paired_completions(client: Client, direct: Target, other: Target, pairs: int, warmup: int,
                             concurrency: int) -> dict[str, Any]:
    """Non-streamed pairs: summaries (ms) of direct, the other side, and added = other - direct per pair."""
    if warmup:
        await _pairs(client, direct, other, timed_completion, warmup, concurrency)
    started = time.perf_counter()
    direct_s, other_s = await _pairs(client, direct, other, timed_completion, pairs, concurrency)
    seconds = time.perf_counter() - started
    added = [o - d for o, d in zip(other_s, direct_s, strict=True)]
    return {"concurrency": concurrency, "warmup_pairs": warmup, "seconds": round(seconds, 2),
            "direct": summary(direct_s), "through": summary(other_s), "added": summary(added)}


async def paired_streams(client: Client, direct: Target, other: Target, pairs: int, warmup: int,
                         concurrency: int) -> dict[str, Any]:
    """Streamed pairs: time to first content and mean inter-chunk gap, each with its added part (ms)."""
    if warmup:
        await _pairs(client, direct, other, timed_stream, warmup, concurrency)
    started = time.perf_counter()
    direct_t, other_t = await _pairs(client, direct, other, timed_stream, pairs, concurrency)
    seconds = time.perf_counter() - started

    def part(values: Sequence[StreamTiming], field: str) -> list[float]:
        return [float(getattr(v, field)) for v in values]

    out: dict[str, Any] = {"concurrency": concurrency, "warmup_pairs": warmup, "seconds": round(seconds, 2),
                           "content_chunks": other_t[0].content_chunks if other_t else 0}
    for field, key in (("first_content", "ttft"), ("inter_chunk", "inter_chunk")):
        d, o = part(direct_t, field), part(other_t, field)
        out[key] = {"direct": summary(d), "through": summary(o),
                    "added": summary([b - a for a, b in zip(d, o, strict=True)])}
    return out


# -- throughput and long runs -----------------------------------------------------------------------------


@dataclass(slots=True)
class LoadResult:
    latencies: list[float]
    seconds: float
    errors: int
    first_error: str | None


async def load(client: Client, target: Target, count: int, concurrency: int, stream_every: int = 0) -> LoadResult:
    """`count` requests from `concurrency` workers (one in `stream_every` streamed when > 0)."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    claimed = 0

    async def worker(session: Session) -> None:
        nonlocal claimed, errors, first_error
        while claimed < count:  # bounded: every turn claims one of `count` requests
            index = claimed
            claimed += 1
            try:
                if stream_every and index % stream_every == stream_every - 1:
                    latencies.append((await timed_stream(session, target)).whole)
                else:
                    latencies.append(await timed_completion(session, target))
            except (RequestFailed, HTTPFailure, ConnectionError, OSError, TimeoutError, ValueError,
                    asyncio.IncompleteReadError) as exc:
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"[:500]
                await session.to(target).close()  # whatever was left half-read on it

    started = time.perf_counter()
    await asyncio.gather(*(worker(client.session(i)) for i in range(min(concurrency, max(count, 1)))))
    return LoadResult(latencies, time.perf_counter() - started, errors, first_error)


def throughput_report(result: LoadResult, concurrency: int, cpu_s: float | None, p99_limit_ms: float) -> dict[str, Any]:
    done = len(result.latencies)
    out: dict[str, Any] = {
        "concurrency": concurrency, "requests": done + result.errors, "errors": result.errors,
        "first_error": result.first_error, "seconds": round(result.seconds, 3),
        "rps": round(done / result.seconds, 1) if result.seconds > 0 else None,
    }
    if done:
        latency = summary(result.latencies)
        out["latency"] = latency
        out["p99_under_limit"] = latency["p99"] < p99_limit_ms and result.errors == 0
    if cpu_s is not None and done:
        out["server_cpu_ms_per_request"] = round(cpu_s * 1000 / done, 3)
        out["server_cpu_utilisation"] = round(cpu_s / result.seconds, 2) if result.seconds > 0 else None
    return out
