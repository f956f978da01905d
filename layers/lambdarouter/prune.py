"""Trim a `pip install --target` tree into a Lambda layer.

Usage: ``prune.py TARGET [DIST ...]``: removes each named distribution, then every distribution that only
the removed ones required (files as listed in each one's RECORD), the console scripts in ``bin/``, bytecode
caches, and test suites inside packages. A requirement that only applies under an extra does not keep a
distribution; any other requirement does, whatever its environment marker (the safe side).
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterable, Mapping
from importlib.metadata import Distribution, distributions
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"\bextra\s*==")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(requires: Iterable[str] | None) -> set[str]:
    """Names a distribution with these `Requires-Dist` lines needs whatever extras are chosen."""
    needed: set[str] = set()
    for requirement in requires or ():
        spec, _, marker = requirement.partition(";")
        match = _NAME.match(spec)
        if match and not _EXTRA.search(marker):
            needed.add(canonical(match.group(1)))
    return needed


def removable(needs: Mapping[str, set[str]], roots: set[str]) -> set[str]:
    """`roots` and every distribution nothing outside the removed set still requires (`needs`: each installed
    distribution's canonical name to the names it requires)."""
    removed = roots & needs.keys()
    while True:
        kept = needs.keys() - removed
        still_needed = set().union(*(needs[name] for name in kept))
        orphans = {
            dep
            for name in removed
            for dep in needs[name]
            if dep in needs and dep not in removed and dep not in still_needed
        }
        if not orphans:
            return removed
        removed |= orphans


def delete(dist: Distribution, target: Path) -> None:
    """Every file of `dist`'s RECORD that lies inside `target` (its .dist-info included)."""
    for file in dist.files or ():
        path = Path(str(dist.locate_file(file))).resolve()
        if path.is_relative_to(target) and path.is_file():
            path.unlink()


def remove_empty_dirs(target: Path) -> None:
    for directory in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()


def prune(target: Path, drop: set[str]) -> list[str]:
    target = target.resolve()
    installed = {canonical(d.metadata["Name"]): d for d in distributions(path=[str(target)])}
    needs = {name: requirements(dist.requires) for name, dist in installed.items()}
    gone = sorted(removable(needs, {canonical(name) for name in drop}))
    for name in gone:
        delete(installed[name], target)
    remove_empty_dirs(target)
    shutil.rmtree(target / "bin", ignore_errors=True)
    for junk in [*target.rglob("__pycache__"), *target.glob("*/tests"), *target.glob("*/test")]:
        if junk.is_dir():
            shutil.rmtree(junk)
    return gone


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    target, *drop = argv
    gone = prune(Path(target), set(drop))
    print(f"layer: removed {', '.join(gone) or 'nothing'} (provided by the Lambda runtime)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
