"""Provider credentials by the design's variable names.

Locally they come from the environment. On AWS the same names are fields of one JSON secret (added by
the deployment issue behind this same protocol), so nothing else changes between the two.
"""

from __future__ import annotations

import os
from typing import Protocol


class Credentials(Protocol):
    def get(self, name: str) -> str | None: ...


class EnvCredentials:
    """Reads variables at call time so a changed environment (tests, rotation) is seen at once."""

    def get(self, name: str) -> str | None:
        return os.environ.get(name) or None
