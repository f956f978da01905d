"""LiteLLM's proxy as the comparison: its own virtual environment, a config against the fake upstream, a server.

The environment (`bench/.litellm-venv`, git-ignored) is created with `python -m venv` and
`pip install 'litellm[proxy]'` from PyPI the first time, then reused. When it cannot be made (no network,
no PyPI) LiteLLM is reported as skipped with the reason, and the rest of the run goes on.

The proxy gets the fairest setup we know of: one worker, no database, no callbacks, no spend or error logs,
message logging off, `LITELLM_LOG=ERROR`, the bundled model-cost map (no fetch at start-up), only the
master key to check. It serves `openai/gpt-4o` as `openai/gpt-4o` at the fake upstream, so the client
sends LiteLLM byte for byte the request it sends the gateway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import ROOT, child_env

DEFAULT_VENV = ROOT / "bench" / ".litellm-venv"
DEFAULT_SPEC = "litellm[proxy]"
MASTER_KEY = "sk-bench-litellm"
INSTALL_TIMEOUT = 900.0
STARTUP_TIMEOUT = 180.0
# Quiet, local and lean: documented LiteLLM settings (an unknown name is ignored by LiteLLM).
ENVIRONMENT = {
    "LITELLM_LOG": "ERROR",
    "LITELLM_MODE": "PRODUCTION",  # no .env loading
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the model-cost map at import
    "LITELLM_TELEMETRY": "False",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
}


@dataclass(frozen=True, slots=True)
class LiteLLMEnv:
    venv: Path
    python: str
    cli: str
    version: str
    created: bool


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _version(python: Path) -> str | None:
    try:
        done = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                              capture_output=True, text=True, timeout=60, check=False, env=child_env({}))
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def ensure(venv: Path = DEFAULT_VENV, spec: str = DEFAULT_SPEC, log: Path | None = None) -> LiteLLMEnv | str:
    """The LiteLLM environment, made if needed; or why it could not be (a string)."""
    python = _venv_python(venv)
    cli = venv / "bin" / "litellm"
    created = False
    if not (python.exists() and cli.exists() and _version(python)):
        print(f"  installing {spec} into {venv} (once) ...", file=sys.stderr, flush=True)
        steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
                 [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec]]
        for step in steps:
            try:
                done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                                      check=False, env=child_env({"PIP_ROOT_USER_ACTION": "ignore"}))
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"`{' '.join(step[:4])} ...` failed: {exc}"
            if log is not None:
                with log.open("a") as out:
                    out.write(f"$ {' '.join(step)}\n{done.stdout}\n{done.stderr}\n")
            if done.returncode != 0:
                return f"`{' '.join(step[:4])} ...` failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        created = True
    version = _version(python)
    if version is None or not cli.exists():
        return f"{venv} has no working litellm after the install"
    return LiteLLMEnv(venv, str(python), str(cli), version, created)


def config(upstream_base: str, upstream_key: str) -> dict[str, Any]:
    return {
        "model_list": [{
            "model_name": "openai/gpt-4o",
            "litellm_params": {"model": "openai/gpt-4o", "api_base": upstream_base, "api_key": upstream_key},
        }],
        "litellm_settings": {
            "set_verbose": False, "json_logs": False, "turn_off_message_logging": True, "request_timeout": 30,
            "num_retries": 0, "telemetry": False, "callbacks": [], "success_callback": [], "failure_callback": [],
        },
        "general_settings": {
            "master_key": MASTER_KEY, "disable_spend_logs": True, "disable_error_logs": True,
            "store_model_in_db": False,
        },
    }


def write_config(path: Path, upstream_base: str, upstream_key: str) -> Path:
    path.write_text(json.dumps(config(upstream_base, upstream_key), indent=2) + "\n")  # JSON is YAML
    return path


def command(env: LiteLLMEnv, config_path: Path, port: int) -> list[str]:
    return [env.cli, "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]


def environment() -> dict[str, str]:
    return child_env({**ENVIRONMENT, "PYTHONUNBUFFERED": "1"})


def import_environment() -> dict[str, str]:
    """For `import litellm` in a fresh interpreter: the same settings, nothing else."""
    env = child_env(ENVIRONMENT)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def ready_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/health/liveliness"


def describe(env: LiteLLMEnv) -> dict[str, Any]:
    return {"version": env.version, "venv": os.path.relpath(env.venv, ROOT), "installed_now": env.created,
            "settings": {"environment": ENVIRONMENT, "workers": 1,
                         "config": config("<fake upstream>/v1", "<dummy>")}}
