"""`--baseline REV` in the cold-start phase: the old tree's functions measured beside the current ones.

Each function of the old tree that the current tree also has (`functions/<name>/app.py`) is one more probe of
bench/coldstart.py, in the same round-robin as the current ones, in the issue's configuration: its own key in
its own SQLite file (made by its CLI), its own `events/` and template.yaml, and imported from a layer built
from its sources by this Makefile with this requirements.lock (same dependency versions: only the project's
code differs), or from this venv with its `src` first on PYTHONPATH (`--coldstart-from venv`). Either way the
harness first checks that `import lambdarouter` there is the old tree's. Without a function in common, the
import of `lambdarouter.http.app` (what every function builds on) is compared instead. The deployed
configuration is measured for the baseline too (bench/coldstart_phase.py), from its layer, where its template and
`functions/` files are this tree's (else the environments and the entry points would differ, not only the code).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import baseline, coldstart, layer
from bench.peers import ADMIN_KEY, create_key, gateway_env
from bench.phase import say
from bench.procs import python

APP_MODULE = "lambdarouter.http.app"


def _layer(old: baseline.Baseline, workdir: Path, env: dict[str, str]) -> tuple[tuple[Path, str], str]:
    """The old tree's layer for this machine, checked: (its python directory and interpreter, the import's file)."""
    say(f"  building {old.label}'s layer (its sources, this Makefile and lock) ...")
    built = layer.host_layer(workdir, old.tree, "baseline-layer")
    if isinstance(built, str):
        raise RuntimeError(f"{old.label}'s layer: {built}")
    baseline.same_modules(built[0] / "lambdarouter", old)
    imported = baseline.check_imported(built[1], {**env, "PYTHONPATH": str(built[0])}, built[0], ("-S",))
    return built, imported


def baseline_probes(args: argparse.Namespace, workdir: Path, upstream_base: str, old: baseline.Baseline,
                    current: Sequence[coldstart.Probe]) -> tuple[list[coldstart.Probe], dict[str, Any]]:
    """The old tree's probes (named `<function>@<short rev>`) and what they compare, for the report."""
    env = {**gateway_env(workdir, "coldstart-baseline", upstream_base), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY,
           **baseline.environment(old)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    imported = baseline.check_imported(python(), env, old.src)
    keys = {"LAMBDAROUTER_KEY": create_key(env), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}
    host: tuple[Path, str] | None = None
    if args.coldstart_from == "layer":
        host, imported = _layer(old, workdir, env)
        del env["PYTHONPATH"]  # entry_probes puts the layer there
    events = workdir / "baseline-events"
    events.mkdir(exist_ok=True)
    ours = {p.name for p in current if p.kind == "entry"}
    theirs = [p for p in coldstart.entry_probes(env, keys, events, old.tree, host) if p.name in ours]
    info = {**old.describe(), "lambdarouter_imported_from": imported,
            "functions_from": f"{old.label}'s layer (its src, this Makefile and requirements.lock)" if host
            else f"this venv with {old.src} first on PYTHONPATH"}
    if theirs:
        info["compared"] = f"functions/*/app.py in both trees: {', '.join(sorted(p.name for p in theirs))}"
        return [replace(p, name=f"{p.name}@{old.short}") for p in theirs], info
    info["compared"] = f"no functions/ entry in common: `import {APP_MODULE}` in both trees, from this venv"
    pair = [coldstart.Probe(APP_MODULE, "module", probe_python, ("import", APP_MODULE), probe_env, flags=flags)
            for probe_python, probe_env, flags in _module_runs(env, old)]
    return [pair[0], replace(pair[1], name=f"{APP_MODULE}@{old.short}")], info


def _module_runs(env: dict[str, str], old: baseline.Baseline) -> list[tuple[str, dict[str, str], tuple[str, ...]]]:
    """(interpreter, environment, flags) importing the app module from the current tree, then from the old one:
    both from this venv (the current tree is its editable install), whatever `--coldstart-from` says."""
    current = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    return [(python(), current, ()), (python(), {**current, **baseline.environment(old)}, ())]
