"""What the Lambda layer must hold, as the tests read it: requirements.lock's pins, the layer's hashed
requirements (layers/lambdarouter/requirements.txt, derived from the lock by ./scripts/lock) and the project's
runtime dependencies."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
LAYER_DIR = ROOT / "layers" / "lambdarouter"
LAYER_HASHES = LAYER_DIR / "requirements.txt"
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}  # the Lambda runtime's own; the layer leaves them out
HASHED_LINE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+) --hash=sha256:(?P<sha256>[0-9a-f]{64})"
                         r"  # (?P<wheel>\S+\.whl)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lock: Path = LOCK) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[canonical(name)] = version
    return pins


@dataclass(frozen=True)
class HashedWheel:
    name: str
    version: str
    sha256: str
    wheel: str  # the file's name


def hashed_wheels(text: str) -> list[HashedWheel]:
    """Every requirement line of the layer's hashed file; AssertionError on a line of another shape."""
    wheels = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = HASHED_LINE.match(line)
        assert match, f"not `name==version --hash=sha256:<64 hex>  # <wheel>`: {line!r}"
        wheels.append(HashedWheel(canonical(match["name"]), match["version"], match["sha256"], match["wheel"]))
    return wheels


def source_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


def runtime_dependencies() -> set[str]:
    """Canonical names of the project's runtime dependencies (no extras)."""
    dependencies: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {canonical(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]) for requirement in dependencies}
