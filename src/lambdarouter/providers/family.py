"""Provider families: one object per family (`providers/<family>/family.py`) that its chat, embeddings and
image adapters share — how its hosts are reached and how its errors read — and the lookup of the adapter
that serves a wire format, driven by the registry (`core.formats`).

A family's modules are imported only when a request needs them (cold start is per format used): the
registry names the package, `<package>.family` holds `FAMILY`, and the family imports a capability's
adapter module on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

from lambdarouter.core.errors import GatewayError, not_configured
from lambdarouter.core.formats import wire_format

if TYPE_CHECKING:
    from lambdarouter.providers.base import WireAdapter
    from lambdarouter.providers.embeddings import EmbeddingAdapter
    from lambdarouter.providers.images import ImageAdapter


class ErrorSeam(Protocol):
    """A family's one error mapping: an upstream error response → `GatewayError`."""

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError: ...


class ProviderFamily(ErrorSeam, Protocol):
    name: str

    def chat(self) -> WireAdapter: ...

    def embeddings(self) -> EmbeddingAdapter | None: ...

    def images(self, upstream_id: str) -> ImageAdapter | None: ...


class Family:
    """The base of the family objects: the capability adapters a family serves, as `module:attribute` paths
    imported on first use. `image_adapters` pairs an upstream-id prefix with an adapter, first match wins ("":
    every id), for families whose image APIs differ by model."""

    chat_adapter: str
    embeddings_adapter: str | None = None
    image_adapters: tuple[tuple[str, str], ...] = ()

    def chat(self) -> WireAdapter:
        adapter: WireAdapter = load(self.chat_adapter)
        return adapter

    def embeddings(self) -> EmbeddingAdapter | None:
        adapter: EmbeddingAdapter | None = load(self.embeddings_adapter) if self.embeddings_adapter else None
        return adapter

    def images(self, upstream_id: str) -> ImageAdapter | None:
        path = next((path for prefix, path in self.image_adapters if upstream_id.startswith(prefix)), None)
        adapter: ImageAdapter | None = load(path) if path is not None else None
        return adapter


class Member:
    """A capability adapter of one family: its error seam is the family's."""

    family: ErrorSeam

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes, provider: str) -> GatewayError:
        return self.family.map_error(status, headers, body, provider)


_loaded: dict[str, Any] = {}


def load(path: str) -> Any:
    """`module:attribute`, imported once (an adapter, or the factory of one)."""
    found = _loaded.get(path)
    if found is None:
        module, _, name = path.partition(":")
        found = _loaded[path] = getattr(import_module(module), name)
    return found


def family_for(name: str) -> ProviderFamily:
    row = wire_format(name)
    if row is None:
        raise not_configured(f"The {name} wire format is not available in this gateway.", retryable=True)
    family: ProviderFamily = load(f"{row.package}.family:FAMILY")
    return family


def adapter_for(name: str) -> WireAdapter:
    return family_for(name).chat()


def embedding_adapter_for(name: str) -> EmbeddingAdapter:
    adapter = family_for(name).embeddings()
    if adapter is None:
        raise GatewayError(404, f"The {name} wire format has no embeddings API in this gateway.")
    return adapter


def image_adapter_for(name: str, upstream_id: str) -> ImageAdapter:
    adapter = family_for(name).images(upstream_id)
    if adapter is None:
        raise GatewayError(404, f"The {name} wire format has no image generation API in this gateway.")
    return adapter
