"""A stream on its way from the upstream to the client, and its accounting however it ends.

The relay yields OpenAI chunks as the provider's events arrive; whatever ends it (the last event, an upstream
failure after the first byte, a client that went away) closes the books exactly once through the service's
`finish`, which records what was produced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import anyio

from lambdarouter import assemble
from lambdarouter.errors import GatewayError
from lambdarouter.providers.events import StreamEvent
from lambdarouter.schemas.chat import ChatCompletionChunk

if TYPE_CHECKING:
    from lambdarouter.service import Generation

FinishBooks = Callable[["Generation", str, GatewayError | None], Awaitable[None]]


class Relay:
    """One open upstream stream on its way to the client, and its accounting whatever way it ends."""

    def __init__(self, finish: FinishBooks, generation: Generation, stack: AsyncExitStack,
                 events: AsyncIterator[StreamEvent]) -> None:
        self.finish, self.generation, self.stack, self.events = finish, generation, stack, events

    async def chunks(self) -> AsyncIterator[ChatCompletionChunk]:
        generation = self.generation
        identity, status, error, first = generation.identity(), "aborted", None, True
        try:
            async with self.stack:
                async for event in self.events:
                    if not generation.shows(event):
                        continue
                    generation.acc.add(event)
                    out = assemble.chunk(identity, event, first)
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
        if error is not None:
            yield assemble.error_chunk(identity, error)
        yield assemble.usage_chunk(identity, generation.usage, generation.cost)

    async def close(self) -> None:
        """After the response, however it ended: a stream never iterated (the client left before the first
        byte) is closed and recorded as aborted too."""
        if self.generation.finished:
            return
        with anyio.CancelScope(shield=True):
            await self.stack.aclose()
        await self.finish(self.generation, "aborted", None)
