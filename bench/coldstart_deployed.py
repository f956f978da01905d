"""Cold starts in the deployed configuration: what each function does on Lambda, on this machine.

- Code: the layer as `layers/lambdarouter/Makefile` builds it (requirements.lock, bytecode compiled) for this
  machine's CPU and, when there is one, the Lambda runtime's Python (3.12), run by that interpreter; each
  function's own files as `sam build` copies them (`functions/<name>/`).
- Environment: template.yaml's, function by function (Globals and its own variables, references resolved to the
  stack's resources as a local moto server holds them), with what Lambda adds (`AWS_LAMBDA_FUNCTION_NAME`,
  `LAMBDA_TASK_ROOT`: Powertools logs and metrics, X-Ray tracing on).
- Mangum functions: a fresh interpreter imports `app.py` and calls `handler(event, context)` (coldstart_child).
- Web Adapter functions (`Handler: run.sh`): `run.sh` starts uvicorn as the adapter does; the probe polls the
  readiness path as the adapter does (AWS_LWA_READINESS_CHECK_PATH, every 10 ms), then sends the event's request
  over HTTP with the adapter's headers and reads the response to its end. ready = process start → readiness
  answered; cold start = process start → response read.

Besides wall time, the CPU time the function's process used (user + system): on a shared machine the wall time
grows with the load of others, the CPU time much less.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from bench.coldstart_child import request_of
from bench.procs import ROOT, cpu_seconds, free_port, stop_tree

LAMBDA_PYTHON = "3.12"  # the template's Runtime
READINESS_POLL = 0.01  # the adapter's interval
STARTUP_TIMEOUT = 60.0
# What the Lambda service sets in every function's environment, with the values a deployed stack has here.
LAMBDA_SETS = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "LAMBDA_TASK_ROOT": "/var/task"}


def lambda_python() -> str | None:
    """An interpreter of the Lambda runtime's version, where the layer's Makefile would find one."""
    candidates = [shutil.which(f"python{LAMBDA_PYTHON}"),
                  *sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{LAMBDA_PYTHON}.*/bin/python3"))]
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                              timeout=30, check=False)
        if done.returncode == 0 and done.stdout.startswith(f"{LAMBDA_PYTHON}."):
            return candidate
    return None


def template_environments(refs: Mapping[str, str], memory_mb: str = "1024") -> dict[str, dict[str, str]]:
    """functions/<name> -> the environment template.yaml gives that function, plus what Lambda sets; `refs`
    names the stack's resources (logical id -> physical name), parameters take their defaults."""
    from samtranslator.yaml_helper import yaml_parse  # the dev venv has it (the tests transform the template)

    template: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
    parameters = template["Parameters"]
    pseudo = {"AWS::StackName": "lambdarouter", "AWS::Region": "us-east-1"}

    def resolve(value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            return refs.get(name) or pseudo.get(name) or str(parameters[name]["Default"])
        return str(value)

    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    out: dict[str, dict[str, str]] = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        code = str(props.get("CodeUri", ""))
        if resource["Type"] != "AWS::Serverless::Function" or not code.startswith("functions/"):
            continue
        own = props.get("Environment", {}).get("Variables", {})
        env = {name: resolve(value) for name, value in {**shared, **own}.items()}
        env.update(LAMBDA_SETS, AWS_LAMBDA_FUNCTION_NAME=f"lambdarouter-{logical_id}",
                   AWS_LAMBDA_FUNCTION_MEMORY_SIZE=memory_mb)
        out[code.removeprefix("functions/").strip("/")] = env
    return out


def run_server(function_dir: str, env: Mapping[str, str], event: Path, interpreter: str,
               layer: Path | None, workdir: Path) -> tuple[dict[str, Any], float, float, str]:
    """run.sh as the Web Adapter runs it: (report like coldstart_child's, start stamp, wall to ready, output)."""
    shim = workdir / "bin"  # `python3` in run.sh is the runtime's interpreter, without `site` (below)
    shim.mkdir(exist_ok=True)
    if not (shim / "python3").exists():
        # `-S` as the Mangum probes run: this machine's interpreter may carry `.pth` files of its own (a sandbox's
        # CA injection imports certifi at every start, ~35 ms of CPU) that Lambda's runtime does not have; what the
        # function imports comes from PYTHONPATH (the layer), as on Lambda.
        (shim / "python3").write_text(f'#!/bin/sh\nexec "{interpreter}" -S "$@"\n')
        (shim / "python3").chmod(0o755)
    port = free_port()
    path = env.get("AWS_LWA_READINESS_CHECK_PATH", "/")
    method, target, headers, body = request_of(json.loads(event.read_text()))
    child_env = {**env, "PORT": str(port), "PATH": f"{shim}{os.pathsep}/usr/bin:/bin", "HOME": str(workdir)}
    if layer is not None:
        child_env["PYTHONPATH"] = str(layer)
    log = workdir / f"{function_dir}.log"
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen([str(ROOT / "functions" / function_dir / "run.sh")], env=child_env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            ready = _ready(client, process, path, started, log)
            context = {"requestId": "bench-cold-start", "stage": "prod"}
            sent = client.request(method, target, content=body, headers={
                **headers, "x-amzn-request-context": json.dumps(context),
                "x-amzn-lambda-context": json.dumps({"request_id": "bench", "deadline": 0})})
            answered = time.monotonic()
        cpu = cpu_seconds(process.pid, tree=True)
    finally:
        stop_tree(process)
    report = {"started": started, "imported": ready, "answered": answered, "import_s": ready - started,
              "request_s": answered - ready, "status": sent.status_code, "response_bytes": len(sent.content),
              "cpu_s": cpu}
    return report, started, answered - started, log.read_text(errors="replace")


def _ready(client: httpx.Client, process: subprocess.Popen[bytes], path: str, started: float, log: Path) -> float:
    while time.monotonic() - started < STARTUP_TIMEOUT:
        if process.poll() is not None:
            raise RuntimeError(f"run.sh exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            if client.get(path).status_code < 500:
                return time.monotonic()
        except httpx.TransportError:
            time.sleep(READINESS_POLL)
    raise RuntimeError(f"run.sh did not answer {path} within {STARTUP_TIMEOUT:.0f} s")
