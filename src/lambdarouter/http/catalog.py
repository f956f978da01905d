"""The catalog the routes read: the injected gateway's (tests, `lambdarouter serve`), else the process's own, loaded
once. Its own module so that the management routes (/hosts) reach it without importing the catalog routes' schemas."""

from __future__ import annotations

from starlette.requests import Request

from lambdarouter.core.catalog import Catalog, load_catalog
from lambdarouter.core.config import Settings


def catalog_of(request: Request) -> Catalog:
    catalog: Catalog | None = getattr(request.app.state, "catalog", None)
    if catalog is None:
        catalog = request.app.state.catalog = load_catalog(Settings.from_env().config_path)
    return catalog
