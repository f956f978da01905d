"""Provider families (`providers/<family>/`) and what they share: the adapter seam (`base`), the family
lookup over the registry of wire formats (`family`), the transport. Adapters are imported only when a request
needs them (cold start is per format used)."""

from __future__ import annotations

from lambdarouter.providers.family import adapter_for

__all__ = ["adapter_for"]
