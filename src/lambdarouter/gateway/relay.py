"""A stream on its way from the upstream to the client, and its accounting however it ends.

The relay yields the operation's chunks as the provider's pieces arrive; whatever ends it (the last piece, an
upstream failure after the first byte, the stream's time limit, a client that went away) closes the books
exactly once through the ledger, which records what was produced, and the closing chunks (`ending`) tell the
client what that cost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any, Generic, TypeVar

import anyio

from lambdarouter.core.errors import GatewayError
from lambdarouter.gateway.books import Books, Generation, Status
from lambdarouter.gateway.operation import StreamingOperation

P = TypeVar("P")  # what the upstream stream yields: events (chat), or an operation's own pieces
C = TypeVar("C")  # what the client is sent: a chunk the SSE writer serializes
logger = logging.getLogger(__name__)

# Lambda ends an invocation after 15 minutes; `serve` ends a stream at the same limit, so that no stream
# outlives the hold set aside for it (service.hold_seconds) and keeps spending past its budget.
STREAM_LIMIT_SECONDS = 15 * 60.0


def time_limit_error(seconds: float) -> GatewayError:
    return GatewayError(408, f"The stream reached the gateway's time limit ({seconds:g} s).", origin="gateway")


class Relay(Generic[P, C]):
    """One open upstream stream on its way to the client, and its accounting whatever way it ends."""

    def __init__(self, books: Books, generation: Generation, stack: AsyncExitStack, pieces: AsyncIterator[P],
                 operation: StreamingOperation[Any, Any, P, C], limit: float = STREAM_LIMIT_SECONDS) -> None:
        self.books, self.generation, self.stack, self.pieces = books, generation, stack, pieces
        self.operation = operation
        self.limit = limit  # seconds from the generation's admission
        self.error: GatewayError | None = None  # what ended the stream early, once `chunks` has ended

    async def chunks(self) -> AsyncGenerator[C, None]:
        """A chunk per piece the client sees, as the pieces arrive; the books closed when they end."""
        generation, operation = self.generation, self.operation
        identity, first = generation.identity(), True
        status: Status = "aborted"
        error: GatewayError | None = None
        try:
            async with self.stack:
                while (piece := await self._next()) is not None:
                    if not generation.count(operation.events(piece[0])):
                        continue
                    out = operation.chunk(identity, piece[0], first)
                    if out is not None:
                        first = False
                        generation.mark_first_token()
                        yield out
            status = "success"
        except GatewayError as exc:
            status, error = "error", exc
        except Exception:  # a fault of the gateway's own: the stream still ends with an error chunk and its cost
            logger.exception("stream %s failed", generation.id)
            status, error = "error", GatewayError(500, "Internal error.", origin="gateway")
        finally:
            # Also runs when the client went away mid-stream: what was produced is still recorded.
            await self.books.close(generation, status, error)
        self.error = error

    def ending(self) -> Sequence[C]:
        """The chunks after the last piece, once `chunks` ended: the error (if the stream failed after its first
        byte), the usage and the cost the books closed at."""
        generation = self.generation
        return self.operation.ending(generation.identity(), generation.usage, generation.cost, self.error)

    async def _next(self) -> tuple[P] | None:
        """The next piece (in a 1-tuple: a piece may be falsy), None at the end; a 408 once the time limit has
        passed. Checked as each piece arrives (a timer around every read would cost more than the read): a
        silent upstream is cut by the transport's read timeout instead, so a stream ends at most one read
        timeout past its limit, which its hold allows for (`Gateway.hold_seconds`)."""
        try:
            piece = await self.pieces.__anext__()
        except StopAsyncIteration:
            return None
        if time.monotonic() - self.generation.started > self.limit:
            raise time_limit_error(self.limit)
        return (piece,)

    async def close(self) -> None:
        """After the response, however it ended: a stream never iterated (the client left before the first
        byte) is closed and recorded as aborted too."""
        if self.generation.finished:
            return
        with anyio.CancelScope(shield=True):
            await self.stack.aclose()
        await self.books.close(self.generation, "aborted", None)
