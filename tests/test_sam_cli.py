"""The documented deployment commands, run for real: `sam build`, then `sam deploy --guided` answered with Enter at
every prompt, and plain `sam deploy` from the committed samconfig.toml, each up to its first CloudFormation call.

The SAM CLI comes from its own venv (`.venv-sam`, installed from requirements-sam.lock by ./scripts/test;
`SAM_CLI` names another). AWS is a local stand-in on 127.0.0.1 (`AWS_ENDPOINT_URL`): it records each request and
refuses it, answering DescribeStacks as CloudFormation answers for a stack that does not exist yet, so a deploy
gets exactly as far as a first deploy in a fresh account would before anything is created. `sam build` needs PyPI
(the layer's wheels) and a Python 3.12 (the layer's bytecode); the built layer is checked against requirements.lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import distributions
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.layer_pins import (
    LAYER_HASHES,
    RUNTIME_PROVIDED,
    canonical,
    hashed_wheels,
    lock_pins,
    runtime_dependencies,
    source_version,
)
from tests.sam_template import FUNCTION_DIRS, FUNCTIONS, ROOT, STACK_NAME, TEMPLATE, WEB_ADAPTER_FUNCTIONS, source

BUILD_TIMEOUT = 600
DEPLOY_TIMEOUT = 180
MANAGED_STACK = "aws-sam-cli-managed-default"  # where SAM keeps its artifact bucket (resolve_s3)
LAYER_PYTHON = "3.12"


def sam_cli() -> str:
    found = os.environ.get("SAM_CLI") or next(
        (str(p) for p in (ROOT / ".venv-sam" / "bin" / "sam",) if p.exists()), None) or shutil.which("sam")
    if not found:
        pytest.skip("the SAM CLI is not installed: ./scripts/test installs it into .venv-sam")
    return found


def python312() -> str | None:
    """An interpreter the layer's Makefile would compile bytecode with (it looks in the same places)."""
    pyenv = Path.home().glob(f".pyenv/versions/{LAYER_PYTHON}.*/bin/python{LAYER_PYTHON}")
    candidates = [shutil.which(f"python{LAYER_PYTHON}"), *sorted(str(p) for p in pyenv)]
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                              timeout=30, check=False)
        if done.returncode == 0 and done.stdout.startswith(f"{LAYER_PYTHON}."):
            return candidate
    return None


# -- a stand-in for AWS ---------------------------------------------------------------------------------------


@dataclass
class StandIn:
    """Records every AWS request (query-protocol form fields) and refuses it."""

    url: str = ""
    requests: list[dict[str, str]] = field(default_factory=list)

    def actions(self) -> list[tuple[str, str]]:
        return [(r.get("Action", "?"), r.get("StackName", "")) for r in self.requests]


def _refusal(action: str, stack: str) -> tuple[int, bytes]:
    if action == "DescribeStacks":  # what CloudFormation answers in an account that never ran `sam deploy`
        code, message = "ValidationError", f"Stack with id {stack} does not exist"
    else:
        code, message = "StandInRefused", "this stand-in for CloudFormation creates nothing; the test ends here"
    body = (f'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>stand-in</RequestId></ErrorResponse>")
    return 400, body.encode()


@pytest.fixture
def aws_stand_in() -> Iterator[StandIn]:
    recorded = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            recorded.requests.append(form)
            status, body = _refusal(form.get("Action", ""), form.get("StackName", ""))
            self.send_response(status)
            self.send_header("content-type", "text/xml")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorded.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorded
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def sam_environment(home: Path, aws_url: str | None = None) -> dict[str, str]:
    """Nothing of the developer's AWS setup: fake credentials, a known Region, no telemetry, no version check."""
    app_dir = home / "sam-app"
    app_dir.mkdir(parents=True, exist_ok=True)
    (app_dir / "metadata.json").write_text(json.dumps({"telemetryEnabled": False, "lastVersionCheck": time.time()}))
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]),
           "HOME": str(Path.home()),  # the layer's Makefile finds pyenv's interpreters there
           "LANG": "C.UTF-8", "SAM_CLI_TELEMETRY": "0", "__SAM_CLI_APP_DIR": str(app_dir),
           "AWS_CONFIG_FILE": str(home / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "PYTHON": sys.executable}  # the layer's Makefile runs pip with it
    if aws_url:
        env["AWS_ENDPOINT_URL"] = aws_url
    return env


# -- sam build ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of the template, as the README runs it (no container): the build directory."""
    sam = sam_cli()
    if python312() is None:
        pytest.skip(f"no Python {LAYER_PYTHON} here: the layer's build stops without one (bytecode)")
    work = tmp_path_factory.mktemp("sam-build")
    done = subprocess.run([sam, "build", "--template-file", str(TEMPLATE), "--build-dir", str(work / "build")],
                          cwd=work, env=sam_environment(work), capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                          check=False)
    assert done.returncode == 0, f"sam build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "Build Succeeded" in done.stdout
    return work / "build"


def test_the_built_layer_installs_exactly_the_lock(built: Path) -> None:
    layer = built / "LambdarouterLayer" / "python"
    installed = {canonical(d.metadata["Name"]): d.version for d in distributions(path=[str(layer)])}
    assert installed.pop("lambdarouter") == source_version()
    pins = lock_pins()
    assert {name: version for name, version in installed.items() if pins.get(name) != version} == {}
    assert runtime_dependencies() - RUNTIME_PROVIDED <= installed.keys(), "every runtime dependency ships in the layer"
    assert not installed.keys() & RUNTIME_PROVIDED, "the Lambda runtime provides these"
    # ... and exactly the hashed files' distributions: nothing pip resolved on its own at build time.
    assert installed == {wheel.name: wheel.version for wheel in hashed_wheels(LAYER_HASHES.read_text())}


def test_the_built_layer_ships_bytecode_for_python_3_12(built: Path) -> None:
    package = built / "LambdarouterLayer" / "python" / "lambdarouter"
    sources = list(package.rglob("*.py"))
    tag = f"cpython-{LAYER_PYTHON.replace('.', '')}"
    missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").exists()]
    assert sources and missing == []


def test_each_built_function_is_its_entry_point(built: Path) -> None:
    for function in FUNCTIONS:
        files = {p.name for p in (built / function).iterdir()}
        assert files == ({"app.py", "run.sh"} if function in WEB_ADAPTER_FUNCTIONS else {"app.py"}), function
        assert (built / function / "app.py").read_text() == (
            ROOT / "functions" / FUNCTION_DIRS[function] / "app.py").read_text()


# -- sam deploy -----------------------------------------------------------------------------------------------


def deploy(built: Path, tmp_path: Path, aws: StandIn, *extra: str, answers: str = "") -> str:
    """`sam deploy` of the built template with a copy of samconfig.toml (a guided deploy may write it)."""
    config = tmp_path / "samconfig.toml"
    shutil.copy(ROOT / "samconfig.toml", config)
    done = subprocess.run([sam_cli(), "deploy", "--template-file", str(built / "template.yaml"),
                           "--config-file", str(config), *extra],
                          cwd=tmp_path, env=sam_environment(tmp_path, aws.url), input=answers, capture_output=True,
                          text=True, timeout=DEPLOY_TIMEOUT, check=False)
    return done.stdout + done.stderr


def assert_reached_cloudformation(output: str, aws: StandIn) -> None:
    """SAM's first AWS calls: look for its managed artifact stack, then create it: CloudFormation."""
    assert aws.actions()[:2] == [("DescribeStacks", MANAGED_STACK), ("CreateChangeSet", MANAGED_STACK)], output
    assert "StandInRefused" in output, output


def test_guided_deploy_succeeds_pressing_enter_at_every_prompt(built: Path, tmp_path: Path,
                                                              aws_stand_in: StandIn) -> None:
    output = deploy(built, tmp_path, aws_stand_in, "--guided", answers="\n" * 100)
    assert "Security Constraints Not Satisfied" not in output and "has no authentication" not in output, output
    parameters = source()["Parameters"]
    for name, parameter in parameters.items():  # every parameter asked, its default offered
        assert f"Parameter {name} [{parameter.get('Default', '')}]:" in output, name
    assert f"Stack Name [{STACK_NAME}]:" in output
    assert "Looking for resources needed for deployment" in output
    assert_reached_cloudformation(output, aws_stand_in)


def test_plain_deploy_works_from_the_committed_samconfig(built: Path, tmp_path: Path, aws_stand_in: StandIn) -> None:
    output = deploy(built, tmp_path, aws_stand_in)
    assert "Missing option" not in output, output
    assert_reached_cloudformation(output, aws_stand_in)
