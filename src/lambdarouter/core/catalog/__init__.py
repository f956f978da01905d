"""The catalog: which models exist, which hosts serve them, at which price.

Bundled data (`models.toml`, beside this file) plus the user's `LAMBDAROUTER_CONFIG` TOML file, which may
add hosts, add or replace models (same id) and add aliases.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast, get_args

from msgspec import Struct, field
from pydantic import ValidationError

from lambdarouter.core.catalog.spec import (
    CatalogFile,
    EndpointSpec,
    ExtraEndpoint,
    HostRow,
    ModelSpec,
)
from lambdarouter.core.errors import bad_request
from lambdarouter.core.formats import REGISTRY
from lambdarouter.core.hosts import BUILTIN_HOSTS, AuthStyle, HostSpec

__all__ = ["Catalog", "EndpointSpec", "ModelSpec", "ResolvedModel", "Variant", "load_catalog"]

Variant = Literal["floor", "nitro"]
VARIANTS: frozenset[str] = frozenset(get_args(Variant))


class ResolvedModel(Struct, frozen=True):
    """A requested model id after alias and variant resolution."""

    requested: str
    model: ModelSpec
    variant: Variant | None


class Catalog(Struct, eq=False):
    models: dict[str, ModelSpec]
    aliases: dict[str, str]
    hosts: dict[str, HostSpec]
    _endpoint_parameters: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    def resolve(self, requested: str) -> ResolvedModel:
        """`author/slug[:variant]`, following aliases; unknown ids are a 400 as OpenRouter answers."""
        base, _, suffix = requested.partition(":")
        variant: Variant | None = None
        if suffix:
            if suffix not in VARIANTS:
                raise bad_request(f"{requested} is not a valid model ID (unknown variant :{suffix}).")
            variant = cast(Variant, suffix)
        target = self.aliases.get(base, base)
        model = self.models.get(target)
        if model is None:
            raise bad_request(f"{requested} is not a valid model ID.")
        return ResolvedModel(requested, model, variant)

    def host(self, name: str) -> HostSpec:
        return self.hosts[name]

    def supported_parameters(self, endpoint: EndpointSpec) -> frozenset[str]:
        key = (endpoint.host, endpoint.upstream_id)
        cached = self._endpoint_parameters.get(key)
        if cached is None:
            listed = endpoint.supported_parameters
            if listed is None:
                listed = REGISTRY[self.hosts[endpoint.host].wire_format].parameters
            cached = self._endpoint_parameters[key] = frozenset(listed)
        return cached


def _parse_toml(text: str, where: str) -> CatalogFile:
    try:
        raw: dict[str, Any] = tomllib.loads(text)
        return CatalogFile.model_validate(raw)
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ValueError(f"invalid catalog file {where}: {exc}") from exc


def _host_from_row(row: HostRow) -> HostSpec:
    return HostSpec(
        name=row.name,
        display_name=row.display_name or row.name,
        wire_format=row.wire_format,
        base_url=row.base_url,
        api_key_env=row.api_key_env,
        auth=cast(AuthStyle, row.auth or REGISTRY[row.wire_format].auth[0]),
        base_url_env=row.base_url_env,
        headers=dict(row.headers),
        data_collection=row.data_collection,
        connect_timeout=row.connect_timeout,
        read_timeout=row.read_timeout,
        options_env=dict(row.options_env),
    )


def _with_endpoint(models: dict[str, ModelSpec], extra: ExtraEndpoint) -> ModelSpec:
    model = models.get(extra.model)
    if model is None:
        raise ValueError(f"endpoint for unknown model {extra.model!r}")
    endpoint = EndpointSpec.model_validate(extra.model_dump(exclude={"model"}))
    return model.model_copy(update={"endpoints": (*model.endpoints, endpoint)})


def build_catalog(files: list[CatalogFile]) -> Catalog:
    hosts = {h.name: h for h in BUILTIN_HOSTS}
    models: dict[str, ModelSpec] = {}
    aliases: dict[str, str] = {}
    for file in files:
        hosts.update((row.name, _host_from_row(row)) for row in file.hosts)
        aliases.update(file.aliases)
        for model in file.models:
            models[model.id] = model
            aliases.pop(model.id, None)  # a later file's model replaces an earlier file's alias
        for extra in file.endpoints:
            models[extra.model] = _with_endpoint(models, extra)
    for model in models.values():
        for endpoint in model.endpoints:
            if endpoint.host not in hosts:
                raise ValueError(f"model {model.id}: unknown host {endpoint.host!r}")
            capabilities = REGISTRY[hosts[endpoint.host].wire_format].capabilities
            if "completions" in endpoint.apis and "completions" not in capabilities:
                raise ValueError(f"model {model.id}: host {endpoint.host!r} has no legacy /completions API")
    for alias, target in aliases.items():
        if target not in models:
            raise ValueError(f"alias {alias} points at unknown model {target}")
    return Catalog(models, aliases, hosts)


@cache
def load_catalog(config_path: Path | None = None) -> Catalog:
    """Parsed once per process (and per config path): warm invocations reuse it."""
    bundled = resources.files(__package__).joinpath("models.toml").read_text(encoding="utf-8")
    files = [_parse_toml(bundled, "bundled catalog")]
    if config_path is not None:
        files.append(_parse_toml(config_path.read_text(encoding="utf-8"), str(config_path)))
    return build_catalog(files)
