"""The use case every chat request goes through: authenticate → route → call → account.

Fallback wraps the adapters from here: candidate endpoints are tried in order until one answers
(before any byte reached the client); whatever happens, one generation record is written.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from lambdarouter import assemble
from lambdarouter.assemble import Accumulator, Identity
from lambdarouter.catalog import Catalog
from lambdarouter.credentials import Credentials
from lambdarouter.errors import GatewayError, unauthorized
from lambdarouter.images import inline_remote_images
from lambdarouter.pricing import generation_cost
from lambdarouter.providers import adapter_for, transport
from lambdarouter.providers.base import StreamDecoder, UpstreamCall, WireAdapter
from lambdarouter.providers.events import StreamEvent
from lambdarouter.routing import Candidate, plan
from lambdarouter.schemas.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from lambdarouter.store import GenerationRecord, KeyRecord, Store, hash_key, same_hash

logger = logging.getLogger(__name__)
T = TypeVar("T")
Opened = tuple[AsyncExitStack, AsyncIterator[StreamEvent]]


def new_generation_id() -> str:
    return f"gen-{int(time.time())}-{secrets.token_urlsafe(15)}"


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


@dataclass(slots=True)
class Generation:
    """The bookkeeping of one request, from arrival to its ledger record."""

    id: str
    key: KeyRecord
    request: ChatCompletionRequest
    streamed: bool
    started: float = field(default_factory=time.monotonic)
    created: int = field(default_factory=lambda: int(time.time()))
    served_by: Candidate | None = None
    first_token_ms: int | None = None
    attempts: list[tuple[str, int, int]] = field(default_factory=list)
    acc: Accumulator = field(default_factory=Accumulator)
    inlined: ChatCompletionRequest | None = None  # the request with remote images fetched, once

    def identity(self) -> Identity:
        served = self.served_by
        return Identity(self.id, self.created, served.model.id if served else "",
                        served.endpoint.host if served else "")

    def cost(self) -> Decimal:
        return generation_cost(self.acc.usage, self.served_by.endpoint) if self.served_by else Decimal(0)

    def mark_first_token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = _ms(self.started)

    def record(self, status: str, error: GatewayError | None) -> GenerationRecord:
        usage, finish, served = self.acc.usage, self.acc.finish, self.served_by
        return GenerationRecord(
            id=self.id, key_hash=self.key.hash, created_at=float(self.created),
            model_requested=self.request.model or ",".join(self.request.models or ()),
            model=served.model.id if served else None, provider=served.endpoint.host if served else None,
            streamed=self.streamed, status=status,
            finish_reason=finish.reason if finish else None, native_finish_reason=finish.native if finish else None,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens, cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens, cost=self.cost(), latency_ms=_ms(self.started),
            first_token_ms=self.first_token_ms, attempts=tuple(self.attempts),
            error=error.message if error else None,
        )


class Gateway:
    def __init__(self, catalog: Catalog, store: Store, credentials: Credentials) -> None:
        self.catalog = catalog
        self.store = store
        self.credentials = credentials

    def authenticate(self, authorization: str | None) -> KeyRecord:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Missing API key: send `Authorization: Bearer sk-lr-...`.")
        digest = hash_key(token)
        record = self.store.find_key(digest)
        if record is None or not same_hash(record.hash, digest) or record.disabled:
            raise unauthorized("Invalid or disabled API key.")
        return record

    async def complete(self, request: ChatCompletionRequest, key: KeyRecord) -> tuple[str, ChatCompletion]:
        generation = Generation(new_generation_id(), key, request, streamed=False)
        try:
            events = await self._first_answer(generation, self._call_whole)
        except GatewayError as exc:
            self._record(generation, "error", exc)
            raise
        for event in events:
            generation.acc.add(event)
        generation.mark_first_token()
        self._record(generation, "success", None)
        return generation.id, assemble.completion(generation.identity(), generation.acc, generation.cost())

    async def stream(self, request: ChatCompletionRequest, key: KeyRecord) -> tuple[
        str, AsyncIterator[ChatCompletionChunk]
    ]:
        """Opens the upstream stream; errors raise here, before the client got a byte."""
        generation = Generation(new_generation_id(), key, request, streamed=True)
        try:
            stack, events = await self._first_answer(generation, self._open_stream)
        except GatewayError as exc:
            self._record(generation, "error", exc)
            raise
        return generation.id, self._relay(generation, stack, events)

    async def _relay(self, generation: Generation, stack: AsyncExitStack,
                     events: AsyncIterator[StreamEvent]) -> AsyncIterator[ChatCompletionChunk]:
        identity, status, error, first = generation.identity(), "aborted", None, True
        try:
            async with stack:
                async for event in events:
                    generation.acc.add(event)
                    out = assemble.chunk(identity, event, first)
                    if out is not None:
                        first = False
                        generation.mark_first_token()
                        yield out
            status = "success"
        except GatewayError as exc:
            status, error = "error", exc
        finally:
            # Also runs when the client went away mid-stream: what was produced is still recorded.
            self._record(generation, status, error)
        if error is not None:
            yield assemble.error_chunk(identity, error)
        yield assemble.usage_chunk(identity, generation.acc.usage, generation.cost())

    async def _first_answer(self, generation: Generation,
                            attempt: Callable[[WireAdapter, UpstreamCall], Awaitable[T]]) -> T:
        """Try each candidate until one answers; retryable failures move on to the next."""
        candidates = plan(generation.request, self.catalog, self.credentials)
        for position, candidate in enumerate(candidates):
            started = time.monotonic()
            try:
                adapter = adapter_for(candidate.host.spec.wire_format)
                call = UpstreamCall(await self._prepared(generation, adapter), candidate.endpoint, candidate.host,
                                    candidate.supported_parameters, generation.streamed)
                result = await attempt(adapter, call)
            except GatewayError as exc:
                generation.attempts.append((candidate.endpoint.host, exc.status, _ms(started)))
                if not exc.retryable or position == len(candidates) - 1:
                    raise
                continue
            generation.attempts.append((candidate.endpoint.host, 200, _ms(started)))
            generation.served_by = candidate
            return result
        raise AssertionError("plan() never returns an empty list")  # pragma: no cover

    @staticmethod
    async def _prepared(generation: Generation, adapter: WireAdapter) -> ChatCompletionRequest:
        """The request as this adapter can take it: image URLs fetched once when it needs bytes."""
        if not adapter.needs_image_bytes:
            return generation.request
        if generation.inlined is None:
            generation.inlined = await inline_remote_images(generation.request)
        return generation.inlined

    @staticmethod
    async def _call_whole(adapter: WireAdapter, call: UpstreamCall) -> list[StreamEvent]:
        body = await transport.send(adapter.build_request(call), adapter, call.host.spec.name)
        return adapter.parse_response(body)

    @staticmethod
    async def _open_stream(adapter: WireAdapter, call: UpstreamCall) -> Opened:
        stack = AsyncExitStack()
        try:
            pieces = await stack.enter_async_context(
                transport.open_stream(adapter.build_request(call), adapter, call.host.spec.name))
        except BaseException:
            await stack.aclose()
            raise
        return stack, _decode(pieces, adapter.stream_decoder())

    def _record(self, generation: Generation, status: str, error: GatewayError | None) -> None:
        try:
            self.store.record_generation(generation.record(status, error))
        except Exception:  # the ledger issue adds retries; never fail the client's answer here
            logger.exception("could not record generation %s", generation.id)


async def _decode(pieces: AsyncIterator[bytes], decoder: StreamDecoder) -> AsyncIterator[StreamEvent]:
    async for piece in pieces:
        for event in decoder.feed(piece):
            yield event
    for event in decoder.close():
        yield event
