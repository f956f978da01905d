"""`--baseline REV`: an older lambdarouter measured in the same run as the current one, beside it.

The revision is checked out as a detached git worktree in the run's temporary directory (removed at the end,
also when the run fails). It is started exactly as the gateway is (bench/peers.py: the same flags, its own
SQLite file on disk, a key made by its own CLI) with this venv's interpreter and dependencies, but with the
old tree's `src` first on PYTHONPATH. The venv holds an editable install of the current tree, so every start
first checks where `import lambdarouter` really resolves under that environment, and fails loudly when it is
not the old tree: a "baseline" that silently measured the current code would prove nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.machine import git
from bench.procs import ROOT

NAME = "baseline"  # the report's key for its figures


@dataclass(frozen=True, slots=True)
class Baseline:
    rev: str  # as given on the command line
    commit: str
    short: str
    tree: Path  # the detached worktree

    @property
    def src(self) -> Path:
        return self.tree / "src"

    @property
    def label(self) -> str:
        return f"lambdarouter@{self.short}"

    def describe(self) -> dict[str, str]:
        return {"rev": self.rev, "commit": self.commit, "label": self.label}


@contextmanager
def checkout(rev: str, parent: Path) -> Iterator[Baseline]:
    """`rev` as a detached worktree under `parent`, removed (and unregistered from the repository) at the end."""
    commit = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if not commit:
        raise RuntimeError(f"--baseline {rev!r}: not a commit of {ROOT}")
    short = git("rev-parse", "--short", commit) or commit[:7]
    tree = Path(tempfile.mkdtemp(prefix="baseline-", dir=parent)) / short
    added = subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT,
                           capture_output=True, text=True, timeout=120, check=False)
    if added.returncode != 0:
        raise RuntimeError(f"git worktree add --detach {tree} {commit} failed:\n{added.stderr[-2000:]}")
    try:
        yield Baseline(rev, commit, short, tree)
    finally:
        remove(tree)


def remove(tree: Path) -> None:
    """`git worktree remove --force`; if git cannot, delete the files and prune the registration."""
    done = subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True,
                          timeout=120, check=False)
    if done.returncode != 0 or tree.exists():
        shutil.rmtree(tree, ignore_errors=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True, timeout=120, check=False)


def environment(baseline: Baseline) -> dict[str, str]:
    """What the gateway's environment gets on top to run the old tree's code."""
    return {"PYTHONPATH": str(baseline.src)}


def imported_from(interpreter: str, env: Mapping[str, str], flags: tuple[str, ...] = ()) -> Path:
    """The file `import lambdarouter` loads under `env`, from the directory the servers start in."""
    done = subprocess.run([interpreter, *flags, "-c", "import lambdarouter; print(lambdarouter.__file__)"],
                          cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`import lambdarouter` failed under the baseline's environment:\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip()).resolve()


def check_imported(interpreter: str, env: Mapping[str, str], expected: Path, flags: tuple[str, ...] = ()) -> str:
    """Fail unless `import lambdarouter` under `env` loads it from `expected` (the old tree's package)."""
    found = imported_from(interpreter, env, flags)
    if not found.is_relative_to(expected.resolve()):
        raise RuntimeError(f"the baseline would not run the old code: under its environment `import lambdarouter` "
                           f"loads {found}, not a module under {expected} (PYTHONPATH={env.get('PYTHONPATH')})")
    return str(found)


def same_modules(package: Path, baseline: Baseline) -> None:
    """Fail unless `package` (a built layer's lambdarouter) has exactly the old tree's modules."""
    def modules(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*.py")}

    built, old = modules(package), modules(baseline.src / "lambdarouter")
    if built != old:
        differ = sorted(built ^ old)[:10]
        raise RuntimeError(f"the baseline layer's lambdarouter is not {baseline.label}'s: modules differ ({differ})")
