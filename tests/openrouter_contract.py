"""OpenRouter's own published OpenAPI document (tests/openrouter_api/, provenance in SOURCE.md there) as the contract:
validate an answer of the gateway against the schema OpenRouter documents for the same operation.

`validate_answer("/chat/completions", "post", body)` checks a JSON body against the operation's 200 (or
`status`) response schema; `validate_chunk` checks one SSE `data:` payload against the schema inside the
operation's `text/event-stream` wrapper (`{"data": chunk}`, as Speakeasy describes SSE). References resolve
inside the document; OpenAPI's own keywords (`example`, `discriminator`, `x-…`) mean nothing to JSON Schema and
are ignored, as the SDKs generated from the document ignore them when parsing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).parent / "openrouter_api" / "openapi.yaml"
ROOT = "urn:openrouter-openapi"


@cache
def document() -> dict[str, Any]:
    with DOCUMENT.open("rb") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return loaded


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(ROOT, resource)
    return registry


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@cache
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{ROOT}#/{pointer}"}, registry=_registry())


def response_pointer(path: str, method: str, status: str = "200", media: str = "application/json") -> str:
    responses = document()["paths"][path][method]["responses"]
    assert status in responses, f"OpenRouter documents no {status} for {method.upper()} {path}"
    assert media in responses[status]["content"], f"no {media} answer for {method.upper()} {path} {status}"
    return _pointer("paths", path, method, "responses", status, "content", media, "schema")


def validate(pointer: str, instance: Any, what: str) -> None:
    """Every place `instance` breaks the schema, each said where (its closest match among `anyOf` branches)."""
    errors = [best_match([error]) for error in _validator(pointer).iter_errors(instance)]
    if errors:
        found = "\n".join(f"  at {'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message[:300]}"
                          for e in errors[:20])
        raise AssertionError(f"{what} does not match OpenRouter's schema:\n{found}")


def validate_answer(path: str, method: str, body: Any, status: str = "200") -> None:
    """A JSON answer of `method path` against OpenRouter's schema for it."""
    validate(response_pointer(path, method, status), body, f"{method.upper()} {path} {status}")


def validate_chunk(path: str, chunk: Any) -> None:
    """One streamed `data:` payload of `POST path` against OpenRouter's event-stream schema."""
    pointer = response_pointer(path, "post", media="text/event-stream")
    validate(pointer, {"data": chunk}, f"a chunk of POST {path}")


def schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = document()["components"]["schemas"][name]
    return found
