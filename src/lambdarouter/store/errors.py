"""The store's own errors: what the HTTP layer maps, whichever database is behind the protocols."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The store could not do what was asked: a DynamoDB error left after the client's retries (throttling, 5xx,
    a conflict that kept repeating), a SQLite file locked by another process or unreadable.

    Raised by every store method in place of the database's own exceptions (the original is its `__cause__`),
    so callers never import sqlite3 or lambdarouter.aws to recognise a store fault. The HTTP layer answers 503 with
    `Retry-After`: the request may succeed in a moment, and nothing was charged for it.
    """


class InvalidCursor(ValueError):
    """A page cursor this store did not hand out (or one of another store): the client's 400."""
