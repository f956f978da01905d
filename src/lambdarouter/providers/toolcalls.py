"""Streamed tool-call bookkeeping shared by every adapter.

Providers identify tool calls in a stream differently (OpenAI by `index`, sometimes missing or -1 on
compatible hosts; Anthropic and Bedrock by content-block index, which counts text blocks too; Gemini by
whole function-call parts). OpenAI clients need dense 0-based indices in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Hashable


class ToolCallIndexer:
    def __init__(self) -> None:
        self._dense: dict[Hashable, int] = {}
        self._last: int | None = None

    def start(self, key: Hashable) -> int:
        """A new call identified by `key` (block index, call id...): its dense index."""
        index = self._dense.setdefault(key, len(self._dense))
        self._last = index
        return index

    def lookup(self, key: Hashable | None) -> int:
        """The dense index of a known call; an unknown or missing key continues the latest call."""
        if key is not None and key in self._dense:
            return self._dense[key]
        if self._last is None or key is not None:
            return self.start(key if key is not None else object())
        return self._last

    @property
    def count(self) -> int:
        return len(self._dense)
