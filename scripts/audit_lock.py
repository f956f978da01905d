#!/usr/bin/env python3
"""Audit requirements.lock against PyPI's vulnerability data: exit 1 if any pinned release has a known advisory.

What pip-audit's default service does, without its resolver: every pin is exact, so each is looked up as is.
PyPI publishes advisories (from the OSV database) per release at /pypi/<name>/<version>/json; where that
endpoint is not served (this machine's PyPI access answers 404 to it), the project document /pypi/<name>/json
carries the advisories of the latest release, which audits every pin that *is* the latest. A pin older than
that cannot be audited from the project document and is listed as such (a warning, not a failure: the fix is
./scripts/lock, which resolves the newest releases the dependencies allow). PyPI unreachable is a failure.

    python3 scripts/audit_lock.py [requirements.lock]
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYPI = "https://pypi.org/pypi"
TIMEOUT = 20


@dataclass(frozen=True)
class Audit:
    name: str
    version: str
    advisories: list[str] = field(default_factory=list)
    unaudited: str | None = None  # why no advisory data applies to this exact release


def pins(lock: Path) -> list[tuple[str, str]]:
    pinned = []
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise SystemExit(f"{lock}: not an exact pin: {line!r}")
            pinned.append((name.strip(), version.split(";", 1)[0].strip()))
    return pinned


def _document(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 (a fixed https URL)
            document: dict[str, Any] = json.load(response)
            return document
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _advisories(document: dict[str, Any]) -> list[str]:
    return [f"{v.get('id')} ({', '.join(v.get('aliases') or [])}) fixed in {', '.join(v.get('fixed_in') or []) or '?'}"
            for v in document.get("vulnerabilities") or [] if not v.get("withdrawn")]


def audit(name: str, version: str) -> Audit:
    release = _document(f"{PYPI}/{name}/{version}/json")
    if release is not None:
        return Audit(name, version, _advisories(release))
    project = _document(f"{PYPI}/{name}/json")
    if project is None:
        return Audit(name, version, unaudited="not on PyPI")
    latest = project["info"]["version"]
    if latest != version:
        return Audit(name, version, unaudited=f"PyPI serves advisories here for the latest release only ({latest})")
    return Audit(name, version, _advisories(project))


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    pinned = pins(lock)
    try:
        with ThreadPoolExecutor(8) as pool:
            audits = list(pool.map(lambda pin: audit(*pin), pinned))
    except (OSError, urllib.error.URLError) as exc:
        print(f"audit_lock: PyPI unreachable, nothing audited: {exc}", file=sys.stderr)
        return 1
    vulnerable = [a for a in audits if a.advisories]
    unaudited = [a for a in audits if a.unaudited]
    for a in unaudited:
        print(f"audit_lock: warning: {a.name}=={a.version} not audited: {a.unaudited}", file=sys.stderr)
    for a in vulnerable:
        print(f"audit_lock: VULNERABLE {a.name}=={a.version}: {'; '.join(a.advisories)}", file=sys.stderr)
    print(f"audit_lock: {len(audits) - len(unaudited)} of {len(audits)} pins audited, {len(vulnerable)} vulnerable")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
