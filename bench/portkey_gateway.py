"""Portkey's AI gateway (node) as a second comparison: installed from npm into bench/portkey, started headless.

`bench/portkey/package.json` and its lock pin `@portkey-ai/gateway` 1.15.2 with `@hono/node-server` overridden
to 1.14.1: as npm installs it otherwise, every streamed answer is a 500 `TypeError: immutable`
(Portkey-AI/gateway #1389, #1550). `npm ci` runs the first time (node_modules is git-ignored), then the
folder is reused; without node or npm, or without the registry, Portkey is reported as skipped.

The gateway gets the setup its README documents for a self-hosted node server: one process, `--headless`
(no console UI), `NODE_ENV=production`. Each request names the provider and the fake upstream in
Portkey's headers (`x-portkey-provider: openai`, `x-portkey-custom-host`) and carries the upstream key:
Portkey checks no key of its own and writes no ledger (the gateway does both).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.latency import UPSTREAM_MODEL, Target, make_target
from bench.procs import ROOT, child_env

FOLDER = ROOT / "bench" / "portkey"
ENTRY = FOLDER / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
INSTALL_TIMEOUT = 600.0
STARTUP_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class PortkeyEnv:
    node: str
    version: str
    node_version: str
    installed_now: bool


def _installed_version() -> str | None:
    package = ENTRY.parent.parent / "package.json"
    try:
        version = json.loads(package.read_text()).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) and ENTRY.exists() else None


def ensure(log: Path | None = None) -> PortkeyEnv | str:
    """Portkey's gateway, installed if needed; or why it could not be (a string)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node or npm is not on PATH"
    installed_now = False
    if _installed_version() is None:
        print(f"  npm ci in {FOLDER} (once) ...", file=sys.stderr, flush=True)
        step = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            done = subprocess.run(step, cwd=FOLDER, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                                  check=False, env=child_env({}))
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`npm ci` failed: {exc}"
        if log is not None:
            log.write_text(f"$ {' '.join(step)}\n{done.stdout}\n{done.stderr}\n")
        if done.returncode != 0:
            return f"`npm ci` failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        installed_now = True
    version = _installed_version()
    if version is None:
        return f"{ENTRY} is missing after `npm ci`"
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                                  check=False).stdout.strip()
    return PortkeyEnv(node, version, node_version, installed_now)


def command(env: PortkeyEnv, port: int) -> list[str]:
    return [env.node, str(ENTRY), f"--port={port}", "--headless"]


def environment() -> dict[str, str]:
    return child_env({"NODE_ENV": "production"})


def ready_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/"


def target(port: int, upstream_base: str, upstream_key: str) -> Target:
    """Portkey's OpenAI-compatible route, told in its headers where the upstream is."""
    return make_target("portkey", f"http://127.0.0.1:{port}/v1", UPSTREAM_MODEL, upstream_key,
                       {"x-portkey-provider": "openai", "x-portkey-custom-host": upstream_base})

def describe(env: PortkeyEnv) -> dict[str, Any]:
    return {"version": env.version, "node": env.node_version, "installed_now": env.installed_now,
            "folder": str(FOLDER.relative_to(ROOT)),
            "settings": {"command": "node build/start-server.js --port=<port> --headless",
                         "environment": {"NODE_ENV": "production"},
                         "overrides": {"@hono/node-server": "1.14.1"},
                         "request_headers": {"x-portkey-provider": "openai",
                                             "x-portkey-custom-host": "<fake upstream>/v1"}}}
