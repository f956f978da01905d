"""A stream on its way from the upstream to the client, and its accounting however it ends.

The relay yields OpenAI chunks as the provider's events arrive; whatever ends it (the last event, an upstream
failure after the first byte, a client that went away) closes the books exactly once through the service's
`finish`, which records what was produced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import anyio

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import StreamEvent, TokenUsage
from lambdarouter.dialects.openrouter import assemble
from lambdarouter.dialects.openrouter.assemble import Identity
from lambdarouter.dialects.openrouter.chat import ChatCompletionChunk

if TYPE_CHECKING:
    from lambdarouter.gateway.service import Generation

FinishBooks = Callable[["Generation", str, GatewayError | None], Awaitable[None]]
P = TypeVar("P")  # what the upstream stream yields: events (chat), or an operation's own pieces
C = TypeVar("C")  # what the client is sent: a chunk the SSE writer serializes
P_contra = TypeVar("P_contra", contravariant=True)
C_co = TypeVar("C_co", covariant=True)


class Renderer(Protocol[P_contra, C_co]):
    """How one kind of stream is counted and shown: chat's, or an operation's (legacy completions)."""

    def events(self, piece: P_contra) -> Sequence[StreamEvent]:
        """What the books count of one piece (text, finish, usage)."""
        ...

    def chunk(self, identity: Identity, piece: P_contra, first: bool) -> C_co | None: ...

    def ending(self, identity: Identity, usage: TokenUsage, cost: Decimal,
               error: GatewayError | None) -> Sequence[C_co]:
        """The chunks after the last piece: the error (if the stream failed after its first byte), the usage."""
        ...


class ChatRenderer:
    """Provider events as OpenAI chat chunks."""

    def events(self, piece: StreamEvent) -> Sequence[StreamEvent]:
        return (piece,)

    def chunk(self, identity: Identity, piece: StreamEvent, first: bool) -> ChatCompletionChunk | None:
        return assemble.chunk(identity, piece, first)

    def ending(self, identity: Identity, usage: TokenUsage, cost: Decimal,
               error: GatewayError | None) -> list[ChatCompletionChunk]:
        closing = [assemble.error_chunk(identity, error)] if error is not None else []
        return [*closing, assemble.usage_chunk(identity, usage, cost)]


CHAT = ChatRenderer()


class Relay(Generic[P, C]):
    """One open upstream stream on its way to the client, and its accounting whatever way it ends."""

    def __init__(self, finish: FinishBooks, generation: Generation, stack: AsyncExitStack,
                 pieces: AsyncIterator[P], renderer: Renderer[P, C] | None = None) -> None:
        self.finish, self.generation, self.stack, self.pieces = finish, generation, stack, pieces
        self.renderer: Renderer[P, C] = renderer if renderer is not None else CHAT  # type: ignore[assignment]

    async def chunks(self) -> AsyncIterator[C]:
        generation, renderer = self.generation, self.renderer
        identity, status, error, first = generation.identity(), "aborted", None, True
        try:
            async with self.stack:
                async for piece in self.pieces:
                    counted = [event for event in renderer.events(piece) if generation.shows(event)]
                    if not counted:
                        continue
                    for event in counted:
                        generation.acc.add(event)
                    out = renderer.chunk(identity, piece, first)
                    if out is not None:
                        first = False
                        generation.mark_first_token()
                        yield out
            status = "success"
        except GatewayError as exc:
            status, error = "error", exc
            if generation.served_by is not None:  # stream decoders do not know which host they decode
                exc.metadata.setdefault("provider_name", generation.served_by.endpoint.host)
        except Exception:
            status = "error"
            raise
        finally:
            # Also runs when the client went away mid-stream: what was produced is still recorded.
            await self.finish(generation, status, error)
        for out in renderer.ending(identity, generation.usage, generation.cost, error):
            yield out

    async def close(self) -> None:
        """After the response, however it ended: a stream never iterated (the client left before the first
        byte) is closed and recorded as aborted too."""
        if self.generation.finished:
            return
        with anyio.CancelScope(shield=True):
            await self.stack.aclose()
        await self.finish(self.generation, "aborted", None)

