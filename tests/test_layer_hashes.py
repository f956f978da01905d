"""The layer's hashed requirements (layers/lambdarouter/requirements.txt): derived from requirements.lock, and
enforced by the layer's Makefile, whose install stops on a file whose hash differs.

The Makefile runs offline here: pip finds a wheel made by the test in a local --find-links directory
(PIP_NO_INDEX, no pip configuration file) and checks its hash as it would a wheel from PyPI.
tests/test_sam_cli.py checks the layer `sam build` makes from the real file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.layer_pins import (
    LAYER_DIR,
    LAYER_HASHES,
    RUNTIME_PROVIDED,
    HashedWheel,
    canonical,
    hashed_wheels,
    lock_pins,
    runtime_dependencies,
)

MAKE_TIMEOUT = 300
PROBE = "lambdarouter-hash-probe"  # a distribution made here: never looked up on an index (PIP_NO_INDEX)
PROBE_WHEEL = "lambdarouter_hash_probe-1.0-py3-none-any.whl"


def disagreements(wheels: list[HashedWheel], pins: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """Each hashed distribution whose version is not the lock's pin: name to (hashed, pinned)."""
    return {w.name: (w.version, pins.get(w.name)) for w in wheels if pins.get(w.name) != w.version}


def test_the_layer_hashes_are_the_locks_versions() -> None:
    """A pin changed in requirements.lock without re-running ./scripts/lock fails here."""
    wheels = hashed_wheels(LAYER_HASHES.read_text())
    assert disagreements(wheels, lock_pins()) == {}, "run ./scripts/lock: the layer's hashes are stale"
    names = [w.name for w in wheels]
    assert len(names) == len(set(names)), "one wheel per distribution: the one pip picks for the target"
    assert runtime_dependencies() - RUNTIME_PROVIDED <= set(names), "every runtime dependency is hashed"
    assert not set(names) & RUNTIME_PROVIDED, "the Lambda runtime provides these"
    for wheel in wheels:  # the file named is the distribution and version of its line, built for the target
        name, version, *_, platform = wheel.wheel.removesuffix(".whl").split("-")
        assert (canonical(name), version) == (wheel.name, wheel.version), wheel
        assert platform == "any" or "aarch64" in platform, wheel


def test_a_pin_moved_in_the_lock_alone_is_a_disagreement() -> None:
    wheels = hashed_wheels(LAYER_HASHES.read_text())
    moved = {**lock_pins(), wheels[0].name: wheels[0].version + ".post99"}
    assert disagreements(wheels, moved) == {wheels[0].name: (wheels[0].version, wheels[0].version + ".post99")}


# -- the Makefile's install, offline ---------------------------------------------------------------------------


def probe_wheel(directory: Path) -> Path:
    """A minimal valid pure-Python wheel (PEP 427): one module, its METADATA, WHEEL and RECORD."""
    dist_info = "lambdarouter_hash_probe-1.0.dist-info"
    files = {
        "lambdarouter_hash_probe.py": b"PROBE = True\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: 1.0\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
              f"{len(data)}" for path, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / PROBE_WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def run_make(target: str, artifacts: Path, hashes: Path, wheels: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        pytest.skip("`make` is not installed (sam build needs it too)")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": os.devnull,
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # This interpreter stands in for the bytecode compiler: the failing step comes before it.
    argv = ["make", "--no-print-directory", "-f", str(LAYER_DIR / "Makefile"), f"ARTIFACTS_DIR={artifacts}",
            f"HASHES={hashes}", f"PYTHON={sys.executable}", f"PYC_PYTHON={sys.executable}", target]
    return subprocess.run(argv, cwd=artifacts.parent, env=env, capture_output=True, text=True, timeout=MAKE_TIMEOUT,
                          check=False)


def hashes_file(path: Path, sha256: str) -> Path:
    path.write_text(f"# one wheel, by hash\n{PROBE}==1.0 --hash=sha256:{sha256}  # {PROBE_WHEEL}\n")
    return path


def test_the_makefile_installs_a_wheel_whose_hash_matches(tmp_path: Path) -> None:
    wheel = probe_wheel(tmp_path / "wheels")
    hashes = hashes_file(tmp_path / "good.txt", hashlib.sha256(wheel.read_bytes()).hexdigest())
    done = run_make("dependencies", tmp_path / "layer", hashes, wheel.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "layer" / "python" / "lambdarouter_hash_probe.py").read_text() == "PROBE = True\n"


def test_a_hash_that_does_not_match_stops_the_layer_build(tmp_path: Path) -> None:
    wheel = probe_wheel(tmp_path / "wheels")
    right = hashlib.sha256(wheel.read_bytes()).hexdigest()
    wrong = ("0" if right[0] != "0" else "1") + right[1:]  # one digit altered
    hashes = hashes_file(tmp_path / "bad.txt", wrong)
    done = run_make("build-LambdarouterLayer", tmp_path / "layer", hashes, wheel.parent)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in done.stderr, done.stderr
    assert f"Expected sha256 {wrong}" in done.stderr and f"Got        {right}" in done.stderr, done.stderr
    layer = tmp_path / "layer" / "python"
    assert not (layer / "lambdarouter").exists() and not (layer / "lambdarouter_hash_probe.py").exists()


# -- hashes.py: pip's report to the hashed file ----------------------------------------------------------------


def report_of_probe(tmp_path: Path) -> Path:
    """pip's own --dry-run --report for the probe wheel, offline: the input `make hashes` gives hashes.py."""
    wheels = probe_wheel(tmp_path / "wheels").parent
    report = tmp_path / "report.json"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": os.devnull,
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                    "--report", str(report), f"{PROBE}==1.0"], env=env, check=True, timeout=MAKE_TIMEOUT)
    return report


def run_hashes(report: Path, lock: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LAYER_DIR / "hashes.py"), str(report), str(lock), "a target"],
                          capture_output=True, text=True, timeout=MAKE_TIMEOUT, check=False)


def test_hashes_py_writes_each_wheel_with_its_sha256(tmp_path: Path) -> None:
    report = report_of_probe(tmp_path)
    (tmp_path / "lock").write_text(f"{PROBE}==1.0\n")
    done = run_hashes(report, tmp_path / "lock")
    assert done.returncode == 0, done.stderr
    sha256 = hashlib.sha256((tmp_path / "wheels" / PROBE_WHEEL).read_bytes()).hexdigest()
    assert hashed_wheels(done.stdout) == [HashedWheel(PROBE, "1.0", sha256, PROBE_WHEEL)]


def test_hashes_py_refuses_a_version_the_lock_does_not_pin(tmp_path: Path) -> None:
    report = report_of_probe(tmp_path)
    (tmp_path / "lock").write_text(f"{PROBE}==0.9\n")
    done = run_hashes(report, tmp_path / "lock")
    assert done.returncode == 1 and done.stdout == ""
    assert f"{PROBE} 1.0 is not what the lock pins (0.9): run ./scripts/lock" in done.stderr


def test_hashes_py_refuses_a_file_without_a_hash(tmp_path: Path) -> None:
    report = report_of_probe(tmp_path)
    parsed = json.loads(report.read_text())
    for item in parsed["install"]:
        item["download_info"]["archive_info"] = {}
    report.write_text(json.dumps(parsed))
    (tmp_path / "lock").write_text(f"{PROBE}==1.0\n")
    done = run_hashes(report, tmp_path / "lock")
    assert done.returncode == 1 and done.stdout == "" and "no sha256" in done.stderr
