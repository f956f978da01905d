"""The catalog the routes read: the injected gateway's (tests, `lambdarouter serve`), else the process's own, loaded
once. Its own module so that the management routes (/hosts) reach it without importing the catalog routes' schemas;
the catalog itself (its pydantic specs) is imported by the first request that reads it, so the management
function's other routes never load pydantic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from lambdarouter.core.config import Settings

if TYPE_CHECKING:
    from lambdarouter.core.catalog import Catalog


def catalog_of(request: Request) -> Catalog:
    catalog: Catalog | None = getattr(request.app.state, "catalog", None)
    if catalog is None:
        from lambdarouter.core.catalog import load_catalog

        catalog = request.app.state.catalog = load_catalog(Settings.from_env().config_path)
    return catalog
