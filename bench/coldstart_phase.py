"""The cold-start phase: each Lambda function's import and first request in fresh interpreters (bench/coldstart.py),
in the issue's configuration and as deployed (bench/coldstart_deployed.py, on a local moto server), beside
`import litellm`, and beside the same functions of an older revision with `--baseline`. See bench/README.md."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import baseline, coldstart, coldstart_deployed, cost, layer, litellm_proxy
from bench.baseline_coldstart import baseline_probes
from bench.peers import ADMIN_KEY, create_key, gateway_env
from bench.phase import say
from bench.procs import ROOT, child_env, free_port, python, server


@contextmanager
def aws_endpoint(workdir: Path, upstream_base: str) -> Iterator[tuple[dict[str, dict[str, str]], dict[str, str]]]:
    """A moto server standing in for DynamoDB, Secrets Manager and S3, set up as a deployed stack has them:
    (each function's environment as template.yaml gives it, by functions/<name>; the events' key values)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with server("moto", [python(), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], child_env({}),
                f"{url}/moto-api/", workdir):
        setup_env = {**coldstart_deployed.LAMBDA_SETS, "AWS_ENDPOINT_URL": url,
                     **{t.env_var: t.default_name for t in _tables()}}
        made = cost.run_probe("aws-setup", upstream_base, {**child_env({}), **setup_env},
                              extra=("--admin-key", ADMIN_KEY))
        refs = {**{t.logical_id: t.default_name for t in _tables()}, **made["resources"]}
        environments = {name: {**env, "AWS_ENDPOINT_URL": url}
                        for name, env in coldstart_deployed.template_environments(refs).items()}
        yield environments, {"LAMBDAROUTER_KEY": made["key"], "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}


def _tables() -> list[Any]:
    from lambdarouter.store.tables import TABLES

    return list(TABLES)


def _functions(args: argparse.Namespace, workdir: Path,
               upstream_base: str) -> tuple[list[coldstart.Probe], tuple[Path, str] | str]:
    """This tree's functions in the issue's configuration, and the layer they import from (or why none)."""
    env = {**gateway_env(workdir, "coldstart", upstream_base), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    keys = {"LAMBDAROUTER_KEY": create_key(env), "LAMBDAROUTER_ADMIN_KEY": ADMIN_KEY}
    built: tuple[Path, str] | str = "--coldstart-from venv"
    if args.coldstart_from == "layer":
        say("  building the layer for this machine's Python (cold starts import only what it ships) ...")
        built = layer.host_layer(workdir)
    return coldstart.entry_probes(env, keys, workdir, layer=None if isinstance(built, str) else built), built


def _deployed(args: argparse.Namespace, workdir: Path, upstream_base: str, host: tuple[Path, str] | None,
              stack: ExitStack, old: baseline.Baseline | None = None,
              old_host: tuple[Path, str] | None = None) -> tuple[list[coldstart.Probe], str]:
    """The functions in the deployed configuration (a moto server that lives as long as `stack`), and a note;
    with `old_host` (the baseline's layer), the baseline's functions too, named `... (deployed)@<rev>`."""
    if not args.coldstart_aws:
        return [], "skipped (--coldstart-aws off)"
    try:
        if host is None:
            raise RuntimeError("the deployed configuration needs the built layer")
        environments, aws_keys = stack.enter_context(aws_endpoint(workdir, upstream_base))
        aws_dir = workdir / "aws-events"
        aws_dir.mkdir(exist_ok=True)
        probes = coldstart.deployed_probes(environments, aws_keys, aws_dir, host)
        if old is not None and old_host is not None and _same_deployment(old.tree):
            old_dir = aws_dir / "baseline"
            old_dir.mkdir(exist_ok=True)
            probes += [replace(p, name=f"{p.name}@{old.short}")
                       for p in coldstart.deployed_probes(environments, aws_keys, old_dir, old_host, old.tree)]
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return [], f"skipped: {exc}"[:1500]
    return probes, ("deployed configuration (bench/coldstart_deployed.py): the layer as its Makefile builds it, run "
                    "by the Lambda runtime's Python where this machine has it; template.yaml's environment per "
                    "function with LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME (Powertools logs, metrics, X-Ray); "
                    "run.sh under the Web Adapter's readiness protocol, or the Mangum handler; DynamoDB, Secrets "
                    "Manager and S3 served by a local moto server")


def _same_deployment(tree: Path) -> bool:
    """The baseline's functions run as this tree's are deployed (this template's environments, this tree's
    `run.sh`): a fair comparison only where its template and function files are this tree's."""
    mine = [ROOT / "template.yaml", *sorted((ROOT / "functions").glob("*/*"))]
    return all((tree / f.relative_to(ROOT)).is_file() and (tree / f.relative_to(ROOT)).read_bytes() == f.read_bytes()
               for f in mine if f.is_file())


def _layer_of(probes: list[coldstart.Probe]) -> tuple[Path, str] | None:
    """The layer the baseline's entry probes import from (its python directory, its interpreter), if any."""
    for probe in probes:
        if "PYTHONPATH" in probe.env and "-S" in probe.flags:
            return Path(probe.env["PYTHONPATH"]), probe.python
    return None


def measure_coldstart(args: argparse.Namespace, workdir: Path, upstream_base: str,
                      lite: litellm_proxy.LiteLLMEnv | None, old: baseline.Baseline | None = None) -> dict[str, Any]:
    probes, built = _functions(args, workdir, upstream_base)
    host = None if isinstance(built, str) else built
    if lite is not None:
        probes.append(coldstart.litellm_probe(lite.python, litellm_proxy.import_environment()))
    older: dict[str, Any] = {}
    old_host: tuple[Path, str] | None = None
    if old is not None:
        try:
            more, older = baseline_probes(args, workdir, upstream_base, old, probes)
            probes += more
            old_host = _layer_of(more) if args.coldstart_from == "layer" else None
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            older = {**old.describe(), "error": f"{type(exc).__name__}: {exc}"[-4000:]}
    with ExitStack() as stack:
        deployed, aws_note = _deployed(args, workdir, upstream_base, host, stack, old, old_host)
        result = coldstart.measure([*probes, *deployed], args.cold_runs, workdir)
    result["aws_configuration"] = aws_note
    result["functions_from"] = (f"this venv ({python()}): no layer: {built}"
                                if isinstance(built, str) else
                                "the layer built for this machine's Python and CPU (layers/lambdarouter/Makefile "
                                "with PYTHON_VERSION, PLATFORMS; boto3 kept), run with `python -S`, PYTHONPATH=layer")
    if old is not None:
        theirs = [p for p in result["probes"] if p["name"].endswith(f"@{old.short}")]
        result[baseline.NAME] = {**older, "probes": theirs}
        result["probes"] = [p for p in result["probes"] if p not in theirs]
    return result
