"""The use case every chat request goes through: authenticate → admit → route → call → settle.

Admission refuses before any upstream call: a model the key may not use (403), a full rate window (429),
a worst case the key cannot afford (402). An admitted request holds its worst-case cost; whatever happens
afterwards (answer, upstream failure, a stream cut short, a client gone) ends in exactly one `_finish`,
which writes the ledger row and settles the hold to the same `Decimal` the client is told in `usage.cost`.
Fallback wraps the adapters from here: candidate endpoints are tried in order until one answers (before
any byte reached the client).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import anyio

from lambdarouter.core.budget import PromptSize, fill_image_tokens, fill_usage, insufficient_credits, measure, quote
from lambdarouter.core.catalog import Catalog
from lambdarouter.core.conversation import ChatRequest
from lambdarouter.core.credentials import Credentials
from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import ReasoningDelta, StreamEvent, TokenUsage
from lambdarouter.core.health import HealthBoard
from lambdarouter.core.pricing import generation_cost
from lambdarouter.core.routing import Candidate, plan, plan_operation, requested_models
from lambdarouter.dialects.openrouter import assemble
from lambdarouter.dialects.openrouter.assemble import Accumulator, Identity
from lambdarouter.dialects.openrouter.chat import ChatCompletion, ChatCompletionRequest
from lambdarouter.dialects.openrouter.inbound import to_canonical
from lambdarouter.gateway.auth import authenticate_key
from lambdarouter.gateway.fallback import RetryPolicy, first_answer
from lambdarouter.gateway.image_fetch import inline_remote_images
from lambdarouter.gateway.operation import Done, Operation, R, StreamingOperation
from lambdarouter.gateway.ratelimit import rate_headers, rate_limited
from lambdarouter.gateway.relay import Relay
from lambdarouter.providers import adapter_for, transport
from lambdarouter.providers.base import UpstreamCall, WireAdapter, decoded
from lambdarouter.store import GenerationRecord, Hold, KeyRecord, Store, call_store
from lambdarouter.store.codec import encode_generation

logger = logging.getLogger(__name__)
T = TypeVar("T")
Opened = tuple[AsyncExitStack, AsyncIterator[StreamEvent]]

# A hold outlives any request (Lambda's 15 minutes, plus slack); an orphaned one is released after this.
HOLD_SECONDS = 20 * 60
# Ledger writes: tried this many times, sleeping between tries; then logged in full (never dropped silently).
SETTLE_BACKOFF = (0.05, 0.2, 0.8)


def new_generation_id() -> str:
    return f"gen-{int(time.time())}-{secrets.token_urlsafe(15)}"


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


@dataclass(slots=True)
class Generation:
    """The bookkeeping of one admitted request, from arrival to its ledger record."""

    id: str
    key: KeyRecord
    request: ChatCompletionRequest | None  # None for the operations beside chat (see `Operation`)
    streamed: bool
    candidates: list[Candidate]
    size: PromptSize
    hold: Hold | None = None
    headers: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    created: int = field(default_factory=lambda: int(time.time()))
    served_by: Candidate | None = None
    first_token_ms: int | None = None
    attempts: list[tuple[str, int, int]] = field(default_factory=list)
    acc: Accumulator = field(default_factory=Accumulator)
    conversation: ChatRequest | None = None  # the request as adapters take it, translated once
    inlined: ChatRequest | None = None  # the conversation with remote images fetched, once
    finished: bool = False
    usage: TokenUsage = field(default_factory=TokenUsage)  # final, once finished
    cost: Decimal = Decimal(0)  # final, once finished: what the ledger and the client both get
    estimated: bool = False
    label: str = ""  # the model(s) requested, for operations beside chat
    images: int = 0  # images generated (an operation's, each at the endpoint's per-image price, or chat's)

    def identity(self) -> Identity:
        served = self.served_by
        return Identity(self.id, self.created, served.model.id if served else "",
                        served.endpoint.host if served else "")

    def shows(self, event: StreamEvent) -> bool:
        """`reasoning.exclude`: the model still reasons (and bills for it), the client does not see it."""
        reasoning = self.request.reasoning if self.request is not None else None
        excluded = reasoning is not None and bool(reasoning.exclude)
        return not (excluded and isinstance(event, ReasoningDelta))

    def server_timing(self) -> str:
        """`Server-Timing`: time in the upstream's answering attempt vs everything else so far."""
        total = (time.monotonic() - self.started) * 1000
        upstream = float(self.attempts[-1][2]) if self.attempts else 0.0
        return f"gateway;dur={max(total - upstream, 0.0):.1f}, upstream;dur={upstream:.1f}"

    def tokens_per_second(self) -> float | None:
        """Output speed after the first token, when both ends are known."""
        if self.first_token_ms is None or not self.usage.completion_tokens:
            return None
        seconds = (time.monotonic() - self.started) - self.first_token_ms / 1000
        return self.usage.completion_tokens / seconds if seconds > 0.001 else None

    def mark_first_token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = _ms(self.started)

    def close_books(self) -> None:
        """Fix the usage and cost: the provider's report, completed by estimates where it never came."""
        self.usage = self.acc.usage
        if self.served_by is None:
            return  # no endpoint answered: nothing was produced, nothing is charged
        acc = self.acc
        pieces = [*acc.text, *acc.refusal, *acc.reasoning, *(a for p in acc.tool_calls.values() for a in p.arguments)]
        filled = fill_usage(self.usage, self.size, sum(len(p) for p in pieces), len(pieces))
        if filled is not None:
            self.usage, self.estimated = filled, True
        endpoint = self.served_by.endpoint
        if self.request is not None:
            self.images = len(acc.images)
        # Images priced as output tokens (`image_output`: chat's, and Gemini's image models on /images/generations)
        # are estimated when the provider did not count them apart; the image APIs' models are priced each
        # (`image`, which in chat prices INPUT images instead).
        token_priced = endpoint.image_output is not None or self.request is not None
        if token_priced and (counted := fill_image_tokens(self.usage, acc.usage, self.images)) is not None:
            self.usage, self.estimated = counted, True
        per_image = self.images * endpoint.image if self.request is None else Decimal(0)
        self.cost = generation_cost(self.usage, endpoint) + per_image

    def record(self, status: str, error: GatewayError | None) -> GenerationRecord:
        usage, finish, served, request = self.usage, self.acc.finish, self.served_by, self.request
        return GenerationRecord(
            id=self.id, key_hash=self.key.hash, created_at=float(self.created),
            model_requested=(request.model or ",".join(request.models or ())) if request else self.label,
            model=served.model.id if served else None, provider=served.endpoint.host if served else None,
            streamed=self.streamed, status=status,
            finish_reason=finish.reason if finish else None, native_finish_reason=finish.native if finish else None,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens, cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens, cost=self.cost, latency_ms=_ms(self.started),
            first_token_ms=self.first_token_ms, attempts=tuple(self.attempts),
            error=error.message if error else None, num_media_prompt=self.size.images,
            num_media_completion=self.images, usage_estimated=self.estimated, upstream_id=self.acc.upstream_id,
        )


@dataclass(frozen=True, slots=True)
class Answer:
    id: str
    completion: ChatCompletion
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Streamed:
    id: str
    relay: Relay[Any, Any]
    headers: dict[str, str]


def _status_of(exc: BaseException) -> str:
    return "error" if isinstance(exc, Exception) else "aborted"  # cancelled / exiting: the client went away


class Gateway:
    def __init__(self, catalog: Catalog, store: Store, credentials: Credentials, *,
                 retry_policy: RetryPolicy | None = None, health: HealthBoard | None = None) -> None:
        self.catalog = catalog
        self.store = store
        self.credentials = credentials
        self.retry_policy = retry_policy or RetryPolicy()
        self.health = health or HealthBoard()
        # Called with every ledger record once it is written (metrics); they must not raise.
        self.observers: list[Callable[[GenerationRecord], None]] = []
        self._background: set[asyncio.Task[None]] = set()

    async def authenticate(self, authorization: str | None) -> KeyRecord:
        """The calling key: 401 when missing, unknown, disabled or expired."""
        return await call_store(self.store, authenticate_key, self.store, authorization, time.time())

    async def complete(self, request: ChatCompletionRequest, key: KeyRecord) -> Answer:
        generation = await self._admit(request, key, streamed=False)
        async with self._finished_on_failure(generation):
            events = await self._first_answer(generation, self._call_whole)
            for event in events:
                if generation.shows(event):
                    generation.acc.add(event)
            generation.mark_first_token()
        await self._finish(generation, "success", None)
        completion = assemble.completion(generation.identity(), generation.acc, generation.cost)
        completion.usage = assemble.usage_body(generation.usage, generation.cost)
        return Answer(generation.id, completion, generation.headers)

    async def stream(self, request: ChatCompletionRequest, key: KeyRecord) -> Streamed:
        """Opens the upstream stream; errors raise here, before the client got a byte."""
        generation = await self._admit(request, key, streamed=True)
        async with self._finished_on_failure(generation):
            stack, events = await self._first_answer(generation, self._open_stream)
        return Streamed(generation.id, Relay(self._finish, generation, stack, events), generation.headers)

    async def operate(self, operation: Operation[R], key: KeyRecord) -> Done[R]:
        """An operation beside chat: the same admission, failover, ledger row and settled hold as chat."""
        generation = await self._admit_operation(operation, key, streamed=False)
        async with self._finished_on_failure(generation):
            result = await self._first_of(generation, operation.attempt)
            events, generation.images = operation.outcome(result)
            for event in events:
                generation.acc.add(event)
            generation.mark_first_token()
        await self._finish(generation, "success", None)
        assert generation.served_by is not None
        return Done(generation.id, result, generation.usage, generation.cost, generation.served_by,
                    generation.headers)

    async def operate_stream(self, operation: StreamingOperation[Any, Any, Any], key: KeyRecord) -> Streamed:
        """A streamed operation: admitted and failed over like `operate`, relayed and booked like a chat stream."""
        generation = await self._admit_operation(operation, key, streamed=True)
        async with self._finished_on_failure(generation):
            stack, pieces = await self._first_of(generation, operation.open)
        return Streamed(generation.id, Relay(self._finish, generation, stack, pieces, operation), generation.headers)

    @asynccontextmanager
    async def _finished_on_failure(self, generation: Generation) -> AsyncIterator[None]:
        """Whatever fails before the answer is handed on (no endpoint, a failed attempt, a client gone) still
        ends in the generation's one ledger row and settled hold."""
        try:
            yield
        except BaseException as exc:
            await self._finish(generation, _status_of(exc), exc if isinstance(exc, GatewayError) else None)
            raise

    async def _admit_operation(self, operation: Operation[Any], key: KeyRecord, streamed: bool) -> Generation:
        """Allowed model (403), routable (400/404/503), rate window (429), affordable (402) — as `_admit`."""
        self._check_allowed(operation.model_ids, key)
        candidates = operation.narrow(plan_operation(
            operation.model_ids, operation.provider, operation.output, operation.size.reserved_tokens,
            self.catalog, self.credentials, self.health))
        generation = Generation(new_generation_id(), key, None, streamed, candidates, operation.size,
                                label=",".join(operation.model_ids))
        await self._rate(generation)
        worst = max(operation.worst_case(c) for c in candidates)
        if (available := await self._reserve(generation, worst)) is not None:
            raise GatewayError(402, f"This request requires more credits: it may cost up to ${worst:f}, and the "
                                    f"key has ${max(available, Decimal(0)):f} left.",
                               metadata={"limit_remaining": float(max(available, Decimal(0)))})
        return generation

    async def _admit(self, request: ChatCompletionRequest, key: KeyRecord, streamed: bool) -> Generation:
        """Allowed model (403), routable (400/503), rate window (429), affordable (402) — in that order."""
        self._check_allowed(requested_models(request), key)
        candidates = plan(request, self.catalog, self.credentials, self.health)
        generation = Generation(new_generation_id(), key, request, streamed, candidates, measure(request))
        await self._rate(generation)
        worst = quote(request, generation.size, [c.endpoint for c in candidates])
        if (available := await self._reserve(generation, worst.amount)) is not None:
            raise insufficient_credits(worst, available)
        return generation

    def _check_allowed(self, model_ids: list[str], key: KeyRecord) -> None:
        for requested in model_ids:
            canonical = self.catalog.resolve(requested).model.id
            if not key.allows_model(requested, canonical):
                raise GatewayError(403, f"This key may not use {requested}.")

    async def _rate(self, generation: Generation) -> None:
        """Count the request in the key's rate window; 429 when it is full."""
        key = generation.key
        if key.rate_limit is not None:
            decision = await call_store(self.store, self.store.hit_rate_window, key.hash, key.rate_limit,
                                         time.time())
            if not decision.allowed:
                raise rate_limited(decision, time.time())
            generation.headers.update(rate_headers(decision))

    async def _reserve(self, generation: Generation, worst: Decimal) -> Decimal | None:
        """Hold the worst case against the key's limit: None when held (or unlimited), else what is left."""
        key = generation.key
        if key.limit is None:
            return None
        hold = Hold(generation.id, worst, time.time() + HOLD_SECONDS)
        result = await call_store(self.store, self.store.reserve, key, hold, time.time())
        if not result.ok:
            return result.available
        generation.hold = hold
        return None

    async def _finish(self, generation: Generation, status: str, error: GatewayError | None) -> None:
        """Close the books once: the ledger row and the settled hold (retried; logged in full if lost)."""
        if generation.finished:
            return
        generation.finished = True
        generation.close_books()
        record = generation.record(status, error)
        self._observe(generation, record)
        # Shielded: a client that hung up cancels the request, never its accounting.
        with anyio.CancelScope(shield=True):
            for attempt, pause in enumerate((*SETTLE_BACKOFF, None), start=1):
                try:
                    await call_store(self.store, self.store.settle, record, generation.hold, time.time())
                    return
                except Exception:
                    logger.warning("ledger write for %s failed (attempt %d)", record.id, attempt, exc_info=True)
                if pause is not None:
                    await anyio.sleep(pause)
        logger.error("LEDGER WRITE LOST for %s after %d attempts; record: %s", record.id, len(SETTLE_BACKOFF) + 1,
                     encode_generation(record))

    def _observe(self, generation: Generation, record: GenerationRecord) -> None:
        """After the books are closed: endpoint health, observers (metrics), and a health sync when due."""
        served = generation.served_by
        if served is not None:
            if record.status == "error":
                self.health.record_failure(served.key)  # failed after its first byte
            elif record.status == "success":
                self.health.record_speed(served.key, record.first_token_ms, generation.tokens_per_second())
        for observer in self.observers:
            try:
                observer(record)
            except Exception:
                logger.exception("observer failed for %s", record.id)
        if self.health.sync_due():
            self.health.last_sync = time.monotonic()  # one sync in flight at a time
            task = asyncio.get_running_loop().create_task(self._sync_health())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _sync_health(self) -> None:
        """Share endpoint health with other instances, off the request path (a background task)."""
        try:
            remote = await call_store(self.store, self.store.load_health)
            self.health.merge(remote)
            await call_store(self.store, self.store.save_health, self.health.snapshot())
        except Exception:  # advisory data: a failed sync only delays sharing
            logger.warning("endpoint health sync failed", exc_info=True)

    async def _first_answer(self, generation: Generation,
                            attempt: Callable[[WireAdapter, UpstreamCall], Awaitable[T]]) -> T:
        """The first candidate's answer, with failover and retries wrapped around the adapters."""
        async def call(candidate: Candidate) -> T:
            adapter = adapter_for(candidate.host.spec.wire_format)
            upstream = UpstreamCall(await self._prepared(generation, adapter), candidate.endpoint, candidate.host,
                                    candidate.supported_parameters, generation.streamed)
            return await attempt(adapter, upstream)

        return await self._first_of(generation, call)

    async def _first_of(self, generation: Generation, call: Callable[[Candidate], Awaitable[T]]) -> T:
        served, result = await first_answer(generation.candidates, call, generation.attempts, self.health,
                                            self.retry_policy)
        generation.served_by = served
        generation.headers["server-timing"] = generation.server_timing()
        return result

    @staticmethod
    async def _prepared(generation: Generation, adapter: WireAdapter) -> ChatRequest:
        """The canonical request as this adapter can take it: image URLs fetched once when it needs bytes."""
        assert generation.request is not None, "chat adapters serve chat generations only"
        if generation.conversation is None:
            generation.conversation = to_canonical(generation.request)
        if not adapter.needs_image_bytes:
            return generation.conversation
        if generation.inlined is None:
            generation.inlined = await inline_remote_images(generation.conversation)
        return generation.inlined

    @staticmethod
    async def _call_whole(adapter: WireAdapter, call: UpstreamCall) -> list[StreamEvent]:
        body = await transport.send(adapter.build_request(call), adapter, call.host.spec.name,
                                    transport.timeout_for(call.host.spec))
        return adapter.parse_response(body)

    @staticmethod
    async def _open_stream(adapter: WireAdapter, call: UpstreamCall) -> Opened:
        stack, pieces = await transport.open_held(adapter.build_request(call), adapter, call.host.spec.name,
                                                  transport.timeout_for(call.host.spec))
        return stack, decoded(pieces, adapter.stream_decoder())


