"""What every OpenRouter request schema shares: the base of inbound wire objects and the largest token count.

A module of its own so that the embeddings and image schemas need not import the chat schemas (and the embeddings
function not build them at its start: tests/test_function_imports.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# The largest token count (and embedding dimension) a request may name: int32, what providers' APIs declare.
MAX_TOKEN_COUNT = 2**31 - 1


class WireModel(BaseModel):
    """Base for inbound wire objects: keep unknown fields so pass-through loses nothing."""

    model_config = ConfigDict(extra="allow")
