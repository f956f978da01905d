"""Failover and retries around the adapters: the request still succeeds when a provider fails.

Before the first byte reaches the client, a retryable failure (an upstream's or the connection's: connect error,
timeout, 408, 429, 5xx, an answer it could not read) moves on to the next endpoint of the same model at once; any
other failure moves on to the next model of the `models` list. Only failures of the upstream or of the way to it
count against an endpoint's health (`GatewayError.endpoint_fault`). Endpoints whose failure was transient
(timeouts, 429, 5xx — not a provider refusing the gateway's credentials) are tried again in a next round, after
an exponential backoff with full jitter (or the provider's `retry-after`), while the request's deadline allows.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from msgspec import Struct

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.health import HealthBoard
from lambdarouter.core.routing import Candidate

T = TypeVar("T")
Attempt = tuple[str, int, int]  # (provider, status, latency ms): OpenRouter's provider_responses
# One generator for the process: seeding one per request read 2.5 kB from os.urandom every time.
_JITTER = random.Random()  # noqa: S311 - jitter, not crypto


class RetryPolicy(Struct, frozen=True):
    deadline_seconds: float = 120.0  # to the first byte (streams) or the whole answer
    rounds: int = 3  # the first try of every candidate, then two retry rounds
    base_backoff: float = 0.25
    max_backoff: float = 4.0

    def backoff(self, round_index: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return retry_after
        return rng.uniform(0, min(self.max_backoff, self.base_backoff * 2**round_index))  # full jitter


def retry_after_seconds(error: GatewayError) -> float | None:
    """`retry-after` as seconds (the HTTP-date form is rare from APIs and is treated as absent)."""
    value = error.headers.get("retry-after", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _deadline_error(seconds: float) -> GatewayError:
    return GatewayError(408, f"No provider answered within the request deadline ({seconds:g} s).",
                        retryable=True, origin="transport")


async def first_answer(candidates: list[Candidate], attempt: Callable[[Candidate], Awaitable[T]],
                       attempts: list[Attempt], health: HealthBoard, policy: RetryPolicy,
                       rng: random.Random | None = None,
                       confirm: Callable[[Candidate, T], Awaitable[T]] | None = None) -> tuple[Candidate, T]:
    """The first candidate that answers, and its answer; else the last error, before the deadline.

    `confirm` checks an answer before it is taken (a stream's first piece), outside the deadline (a model may
    think for minutes before its first token; the transport's read timeout bounds that wait); what it raises
    fails the attempt like the attempt's own errors."""
    draw = rng or _JITTER
    deadline = time.monotonic() + policy.deadline_seconds
    pending = list(candidates)
    last: GatewayError | None = None
    for round_index in range(policy.rounds):
        retry: list[Candidate] = []
        given_up: set[str] = set()  # models that failed for a reason another try of them will not fix
        waits: list[float] = []
        for candidate in pending:
            if candidate.requested in given_up:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise last or _deadline_error(policy.deadline_seconds)
            started = time.monotonic()
            try:
                result = await _answer_of(candidate, attempt, confirm, remaining)
            except (GatewayError, TimeoutError) as exc:
                error = exc if isinstance(exc, GatewayError) else _deadline_error(policy.deadline_seconds)
                attempts.append((candidate.endpoint.host, error.status, _ms(started)))
                if error.endpoint_fault:  # not a client's bad request, nor the gateway's own refusal
                    health.record_failure(candidate.key)
                last = error
                if isinstance(exc, TimeoutError):
                    raise error from None
                after = retry_after_seconds(error)
                # Worth another try in the next round — unless the provider asks for a longer wait than a
                # retry may take: then the client gets its 429 and retry-after rather than a stalled call.
                if error.transient and (after is None or after <= policy.max_backoff):
                    retry.append(candidate)
                    if after is not None:
                        waits.append(after)
                if not error.retryable:
                    given_up.add(candidate.requested)
                continue
            attempts.append((candidate.endpoint.host, 200, _ms(started)))
            health.record_success(candidate.key, float(_ms(started)))
            return candidate, result
        pending = retry
        if not pending or round_index == policy.rounds - 1:
            break
        pause = policy.backoff(round_index, min(waits) if waits else None, draw)
        if time.monotonic() + pause >= deadline:
            break  # waiting would pass the deadline: the client gets the last error now
        await asyncio.sleep(pause)
    assert last is not None, "first_answer() needs at least one candidate"
    raise last


async def _answer_of(candidate: Candidate, attempt: Callable[[Candidate], Awaitable[T]],
                     confirm: Callable[[Candidate, T], Awaitable[T]] | None, remaining: float) -> T:
    """One attempt within what is left of the deadline, then its check (outside it)."""
    async with asyncio.timeout(remaining):
        result = await attempt(candidate)
    return await confirm(candidate, result) if confirm is not None else result


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)
