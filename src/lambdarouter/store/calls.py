"""How a store's synchronous methods become the async seam, and where they run.

Two placements, chosen per method by the store that knows its costs:

- `on_loop`: the call runs on the event loop. For SQLite's request-path calls (keys, reserve, settle):
  tens of microseconds, no network and no fsync (store/sqlite_wal.py moves those to a thread of their
  own), so a thread hop would cost more than the call (bench: -0.4 ms per request at concurrency 1).
- `in_thread`: the call runs in a worker thread (`anyio.to_thread`). For network round trips (every
  DynamoDB call: its client is synchronous) and for reads that can be long (pages of the ledger, usage reports,
  key lists), so that they never stall the loop.

Either way, the database's own exceptions leave the store as `StoreUnavailable` (the store class names
them in `faults`): one error type for the HTTP layer to map, whatever is behind the protocols.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Concatenate, ParamSpec, Protocol, TypeVar

from lambdarouter.store.errors import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")


class HasFaults(Protocol):
    # The exceptions of the database client that mean "the store failed" (not a bug of ours).
    faults: ClassVar[tuple[type[Exception], ...]]


S = TypeVar("S", bound=HasFaults)
Method = Callable[Concatenate[S, P], T]
AsyncMethod = Callable[Concatenate[S, P], Coroutine[Any, Any, T]]


def _unavailable(store: HasFaults, exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"{type(store).__name__}: {type(exc).__name__}")


def on_loop(method: Method[S, P, T]) -> AsyncMethod[S, P, T]:
    """An async method that runs `method` on the event loop (microseconds, no I/O wait)."""

    @functools.wraps(method)
    async def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except self.faults as exc:
            raise _unavailable(self, exc) from exc

    return call


def in_thread(method: Method[S, P, T]) -> AsyncMethod[S, P, T]:
    """An async method that runs `method` in a worker thread (network round trips, long reads)."""

    @functools.wraps(method)
    async def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        import anyio.to_thread  # here, not at the top: importing the store must not need an event loop

        try:
            return await anyio.to_thread.run_sync(functools.partial(method, self, *args, **kwargs))
        except self.faults as exc:
            raise _unavailable(self, exc) from exc

    return call
