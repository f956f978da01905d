"""The gateway's side of the adapter seam: whatever a provider sends, it reaches the gateway as events or as a
`GatewayError` that blames the provider, without the provider's credential in it.

Adapters translate; they are not trusted to anticipate every shape a provider may put in a 200 (`choices` as
an object, `content` as a number, usage as strings). Whatever reading an answer raises becomes a retryable
upstream fault here (`parsed` for a whole answer, `UpstreamStream` for a stream), so failover applies and the
client never sees a 500. An error whose message or metadata echo the host's key is redacted here, before
anything renders, stores or logs it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

from lambdarouter.core.errors import GatewayError
from lambdarouter.core.events import MalformedEvent
from lambdarouter.core.routing import Candidate
from lambdarouter.providers.common import malformed

logger = logging.getLogger(__name__)
T = TypeVar("T")
P = TypeVar("P")
# A key shorter than this is not redacted: replacing every occurrence of a few characters would garble
# messages, and no provider issues keys that short.
MIN_SECRET_LENGTH = 8


def secrets_of(candidate: Candidate) -> tuple[str, ...]:
    """The credential the gateway sends this endpoint's host, which no error may carry onwards."""
    key = candidate.host.api_key
    return (key,) if key and len(key) >= MIN_SECRET_LENGTH else ()


def unreadable(provider: str, exc: Exception) -> GatewayError:
    """An answer the adapter could not read, as the provider's fault. The exception's text is not the message
    (it may quote anything the provider sent), except for the events' own checks, which name a field only."""
    if isinstance(exc, MalformedEvent):
        return malformed(f"an answer the gateway cannot read: {exc}", provider)
    logger.warning("%s sent an answer the adapter cannot read", provider, exc_info=exc)
    return malformed(f"an answer the gateway cannot read ({type(exc).__name__})", provider)


def blamed(exc: GatewayError, candidate: Candidate) -> GatewayError:
    """An error raised while reading a provider's answer: the provider's (unless the connection failed), and
    without the host's credential."""
    if exc.origin != "transport":
        exc.from_upstream(candidate.host.spec.name)
    return exc.redact(secrets_of(candidate))


def parsed(provider: str, parse: Callable[..., T], *args: object) -> T:
    """`parse(*args)`: an adapter reading a provider's whole answer. Whatever it raises blames the provider."""
    try:
        return parse(*args)
    except GatewayError as exc:
        raise exc.from_upstream(provider) from None
    except Exception as exc:
        raise unreadable(provider, exc) from exc


class UpstreamStream(Generic[P]):
    """An open upstream stream's pieces: its failures blame the provider, without the host's credential, and
    its first piece can be read before the client gets a byte (`peek`), while another endpoint may still be
    tried."""

    def __init__(self, pieces: AsyncIterator[P], candidate: Candidate) -> None:
        self._pieces = pieces
        self._candidate = candidate
        self._ahead: list[P] = []

    def __aiter__(self) -> UpstreamStream[P]:
        return self

    async def __anext__(self) -> P:
        if self._ahead:
            return self._ahead.pop()
        try:
            return await self._pieces.__anext__()
        except StopAsyncIteration:
            raise
        except GatewayError as exc:
            raise blamed(exc, self._candidate) from None
        except Exception as exc:
            raise blamed(unreadable(self._candidate.host.spec.name, exc), self._candidate) from exc

    async def peek(self) -> None:
        """Read the first piece now: a 200 whose body is an error event, garbage, HTML or nothing raises here."""
        with contextlib.suppress(StopAsyncIteration):
            self._ahead.append(await self.__anext__())
