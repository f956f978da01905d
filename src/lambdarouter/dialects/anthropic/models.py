"""Anthropic model names (`claude-sonnet-4-6`, dated `claude-sonnet-4-5-20250929`) → catalog ids.

Anthropic SDK users and Claude Code name models as Anthropic's API does; the catalog names them as OpenRouter
does (`anthropic/claude-sonnet-4.6`). A name with a `/` is a catalog id already (`openai/gpt-4o` works too).
Otherwise, in order: an endpoint's upstream id on Anthropic's API or Bedrock (`claude-opus-4-6`,
`us.anthropic.claude-sonnet-4-6`), the same without its date (Anthropic's undated aliases,
https://platform.claude.com/docs/en/about-claude/models/overview#model-aliases), then the OpenRouter spelling
of the name (`claude-opus-4-1` → `anthropic/claude-opus-4.1`, `claude-3-5-sonnet` → `anthropic/claude-3.5-sonnet`),
which also reaches the catalog's aliases of retired models. A name none of these finds is Anthropic's 404.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lambdarouter.core.catalog import Catalog
from lambdarouter.core.errors import GatewayError

# Hosts whose upstream ids are Claude model names a client may send.
CLAUDE_HOST_FORMATS = ("anthropic", "bedrock")
DATE_SUFFIX = re.compile(r"-\d{8}$")
# claude-opus-4-1 / claude-sonnet-4 (family first, since Claude 4) and claude-3-5-sonnet / claude-3-haiku.
FAMILY_FIRST = re.compile(r"^claude-([a-z]+)-(\d+)(?:-(\d))?$")
VERSION_FIRST = re.compile(r"^claude-(\d+)(?:-(\d))?-([a-z]+)$")


@lru_cache(maxsize=8)  # per catalog object (identity-hashed): built once per process
def _upstream_ids(catalog: Catalog) -> dict[str, str]:
    """Upstream id → catalog model id, then each id's undated form where no upstream id is spelled so; Anthropic's
    own API wins over Bedrock."""
    index: dict[str, str] = {}
    ids = [(endpoint.upstream_id, model.id) for wire_format in CLAUDE_HOST_FORMATS for model in catalog.models.values()
           for endpoint in model.endpoints if catalog.host(endpoint.host).wire_format == wire_format]
    for upstream_id, model_id in ids:
        index.setdefault(upstream_id, model_id)
    for upstream_id, model_id in ids:
        index.setdefault(DATE_SUFFIX.sub("", upstream_id), model_id)
    return index


def openrouter_spelling(name: str) -> str | None:
    """`claude-opus-4-1` → `anthropic/claude-opus-4.1`; None for a name that is not a Claude model name."""
    undated = DATE_SUFFIX.sub("", name)
    if match := FAMILY_FIRST.match(undated):
        family, major, minor = match.groups()
        return f"anthropic/claude-{family}-{major}" + (f".{minor}" if minor else "")
    if match := VERSION_FIRST.match(undated):
        major, minor, family = match.groups()
        return f"anthropic/claude-{major}" + (f".{minor}" if minor else "") + f"-{family}"
    return None


def catalog_id(name: str, catalog: Catalog) -> str:
    """The catalog id an Anthropic client's `model` names; Anthropic's 404 `not_found_error` if none."""
    if "/" in name:
        return name  # a catalog id: resolved (and refused) as on every route
    index = _upstream_ids(catalog)
    found = index.get(name) or index.get(DATE_SUFFIX.sub("", name))
    if found is not None:
        return found
    spelled = openrouter_spelling(name)
    if spelled is not None:
        base = spelled.partition(":")[0]
        if base in catalog.models or base in catalog.aliases:
            return spelled
    raise GatewayError(404, f"model: {name}")
