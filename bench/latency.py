"""Added latency: the same request straight to the fake upstream and through the gateway, interleaved.

One `httpx.Client` (HTTP/1.1) keeps one persistent connection to each server. Each pair sends both
requests back to back, alternating which goes first (A B, B A, A B, ...) so that neither side always
benefits from running right after the other; the paired difference (gateway - direct) is what the
gateway adds on this machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.stats import summary

UPSTREAM_MODEL = "gpt-4o"
GATEWAY_MODEL = "openai/gpt-4o"
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]
MAX_STREAM_LINES = 10_000


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    body: bytes
    stream_body: bytes
    headers: dict[str, str]


def targets(upstream_base: str, gateway_base: str, gateway_key: str) -> tuple[Target, Target]:
    """(direct, gateway): the same chat request, with the model id each side expects."""

    def bodies(model: str) -> tuple[bytes, bytes]:
        request: dict[str, Any] = {"model": model, "messages": MESSAGES, "max_tokens": 32, "temperature": 0}
        return json.dumps(request).encode(), json.dumps({**request, "stream": True}).encode()

    direct_body, direct_stream = bodies(UPSTREAM_MODEL)
    gateway_body, gateway_stream = bodies(GATEWAY_MODEL)
    common = {"content-type": "application/json", "accept": "application/json"}
    direct = Target("direct", f"{upstream_base}/chat/completions", direct_body, direct_stream,
                    {**common, "authorization": "Bearer sk-bench-upstream"})
    gateway = Target("gateway", f"{gateway_base}/chat/completions", gateway_body, gateway_stream,
                     {**common, "authorization": f"Bearer {gateway_key}"})
    return direct, gateway


def new_client() -> httpx.Client:
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=300)
    return httpx.Client(http1=True, http2=False, trust_env=False, timeout=httpx.Timeout(30.0), limits=limits)


def timed_completion(client: httpx.Client, target: Target) -> float:
    """Seconds from sending the request to having read the whole answer."""
    start = time.perf_counter()
    response = client.post(target.url, content=target.body, headers=target.headers)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{target.name}: HTTP {response.status_code}: {response.text[:500]}")
    return elapsed


def _has_content(line: str) -> bool:
    if not line.startswith("data:"):
        return False
    data = line[5:].strip()
    if data == "[DONE]":
        return False
    chunk = json.loads(data)
    choices = chunk.get("choices") or []
    return bool(choices and (choices[0].get("delta") or {}).get("content"))


def timed_first_content(client: httpx.Client, target: Target) -> float:
    """Seconds to the first `data:` line whose delta has content; the rest of the stream is drained."""
    headers = {**target.headers, "accept": "text/event-stream"}
    first: float | None = None
    done = False
    start = time.perf_counter()
    with client.stream("POST", target.url, content=target.stream_body, headers=headers) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"{target.name}: HTTP {response.status_code}: {response.text[:500]}")
        for count, line in enumerate(response.iter_lines()):
            if first is None and _has_content(line):
                first = time.perf_counter() - start
            done = done or line.strip() == "data: [DONE]"
            if count >= MAX_STREAM_LINES:
                raise RuntimeError(f"{target.name}: stream longer than {MAX_STREAM_LINES} lines")
    if first is None or not done:
        raise RuntimeError(f"{target.name}: stream without content or without [DONE]")
    return first


def check_answers(client: httpx.Client, direct: Target, gateway: Target) -> None:
    """Both sides answer 200 with the same text, so the timings compare like with like."""
    texts = []
    for target in (direct, gateway):
        response = client.post(target.url, content=target.body, headers=target.headers)
        if response.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {response.status_code}: {response.text[:500]}")
        texts.append(response.json()["choices"][0]["message"]["content"])
    if texts[0] != texts[1]:
        raise RuntimeError(f"the gateway answered {texts[1]!r}, the upstream {texts[0]!r}")


def paired(client: httpx.Client, direct: Target, gateway: Target, measure: Callable[[httpx.Client, Target], float],
           pairs: int, warmup: int) -> dict[str, dict[str, float]]:
    """`warmup` unrecorded pairs, then `pairs` recorded ones: summaries of direct, gateway and added."""
    direct_s: list[float] = []
    gateway_s: list[float] = []
    for i in range(warmup + pairs):
        if i % 2 == 0:
            a = measure(client, direct)
            b = measure(client, gateway)
        else:
            b = measure(client, gateway)
            a = measure(client, direct)
        if i >= warmup:
            direct_s.append(a)
            gateway_s.append(b)
    added = [g - d for g, d in zip(gateway_s, direct_s, strict=True)]
    return {"direct": summary(direct_s), "gateway": summary(gateway_s), "added": summary(added)}
