"""The Lambda layer's size: built with its own Makefile into a temporary directory, zipped as SAM zips it.

`make -f layers/lambdarouter/Makefile ARTIFACTS_DIR=<tmp> build-LambdarouterLayer` downloads the arm64
CPython 3.12 wheels from PyPI (network needed: without it the layer is reported as skipped), prunes what
the Lambda runtime provides (boto3, botocore, s3transfer and what only they need), and compiles bytecode
when the Makefile finds a Python 3.12 on this machine (as `sam build` would run it here). The tree is
zipped with deflate level 9; reported: the zip's size, the unzipped size, and both by package, plus the
sources-only zip (without `__pycache__`), what a build machine without Python 3.12 produces.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from bench.coldstart_deployed import lambda_python
from bench.procs import ROOT, child_env

MAKEFILE = ROOT / "layers" / "lambdarouter" / "Makefile"
BUILD_TIMEOUT = 900.0
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all its layers, unzipped


def zip_tree(root: Path, out: Path, include_bytecode: bool = True) -> int:
    """Zip every file under `root` (paths relative to it, sorted), deflate level 9; the zip's size."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if not include_bytecode and "__pycache__" in path.parts:
                continue
            archive.write(path, path.relative_to(root).as_posix())
    return out.stat().st_size


def package_of(relative: str) -> str:
    """`python/pydantic_core/x.so` → `pydantic_core`; dist-info directories go together."""
    parts = relative.split("/")
    top = parts[1] if parts[0] == "python" and len(parts) > 1 else parts[0]
    if top.endswith(".dist-info"):
        return "*.dist-info (metadata)"
    return top.removesuffix(".py")


def by_package(archive: Path) -> list[dict[str, Any]]:
    sizes: dict[str, list[int]] = {}
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            row = sizes.setdefault(package_of(info.filename), [0, 0, 0])
            row[0] += info.compress_size
            row[1] += info.file_size
            row[2] += 1
    rows = sorted(sizes.items(), key=lambda kv: kv[1][0], reverse=True)
    return [{"package": name, "zipped_bytes": z, "unzipped_bytes": u, "files": n} for name, (z, u, n) in rows]


def build(artifacts: Path, *overrides: str) -> subprocess.CompletedProcess[str] | str:
    """Run the layer's Makefile into `artifacts` (with `NAME=value` overrides); the reason when it fails."""
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = ["make", "--no-print-directory", "-f", str(MAKEFILE), f"ARTIFACTS_DIR={artifacts}", *overrides,
            "build-LambdarouterLayer"]
    if shutil.which("make") is None:
        return "`make` is not installed"
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
                              env=child_env({"PIP_ROOT_USER_ACTION": "ignore"}))
    except subprocess.TimeoutExpired:
        return f"the layer build took more than {BUILD_TIMEOUT:.0f} s"
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if not line.startswith("WARNING: Location")]
        return f"the layer build failed ({done.returncode}; network to PyPI needed): {' '.join(lines)[-1500:]}"
    return done


def host_layer(workdir: Path, project: Path = ROOT, name: str = "host-layer") -> tuple[Path, str] | str:
    """The same layer built for this machine's CPU and the Lambda runtime's Python (3.12) when this machine has
    it, else this interpreter's, boto3 kept (the Lambda runtime has it): (its `python` directory, the interpreter
    to run it with), or why it could not be built.

    Cold starts run from it with the bare interpreter (`-S`, PYTHONPATH=layer), as Lambda runs the layer
    over its runtime: only what the layer ships is importable, not whatever a development venv holds (an
    optional import that finds a package there, as httpcore's `import trio`, would cost time Lambda
    never spends).

    `project`: another checkout's sources (`--baseline`), built by this Makefile with this requirements.lock, so
    the dependencies are the same versions and only the project's own code differs."""
    interpreter = lambda_python() or getattr(sys, "_base_executable", None) or sys.executable
    done_version = subprocess.run([interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=30, check=True)
    version = done_version.stdout.strip()
    arch = platform.machine()
    platforms = " ".join(f"{tag}_{arch}" for tag in ("manylinux_2_28", "manylinux2014", "manylinux_2_17"))
    artifacts = workdir / name
    done = build(artifacts, f"PYTHON_VERSION={version}", f"PLATFORMS={platforms}", "RUNTIME_PROVIDED=",
                 f"PYC_PYTHON={interpreter}", f"PROJECT_DIR={project}", f"LOCK={ROOT / 'requirements.lock'}",
                 "HASHES=")  # the hashes are the arm64 layer's: this target resolves from the lock
    if isinstance(done, str):
        return done
    return artifacts / "python", interpreter


def measure(workdir: Path) -> dict[str, Any]:
    """Build, zip and measure; {"skipped": reason} when the build cannot run here."""
    artifacts = workdir / "layer"
    done = build(artifacts)
    if isinstance(done, str):
        return {"skipped": done}
    archive = workdir / "layer.zip"
    zipped = zip_tree(artifacts, archive)
    sources_only = zip_tree(artifacts, workdir / "layer-sources.zip", include_bytecode=False)
    unzipped = sum(p.stat().st_size for p in artifacts.rglob("*") if p.is_file())
    packages = by_package(archive)
    return {
        "command": ["make", "-f", "layers/lambdarouter/Makefile", "ARTIFACTS_DIR=<tmp>", "build-LambdarouterLayer"],
        "bytecode_compiled": any(artifacts.rglob("*.pyc")),
        "build_output": [line for line in (done.stdout + done.stderr).splitlines()
                         if line.startswith(("layer:", "note:")) or "compileall" in line],
        "zipped_bytes": zipped,
        "zipped_mb": round(zipped / 1e6, 2),
        "zipped_sources_only_bytes": sources_only,
        "unzipped_bytes": unzipped,
        "unzipped_mb": round(unzipped / 1e6, 2),
        "unzipped_share_of_lambda_limit": round(unzipped / LAMBDA_UNZIPPED_LIMIT, 3),
        "files": sum(p["files"] for p in packages),
        "by_package": packages,
        "runtime_provided_excluded": ["boto3", "botocore", "s3transfer", "(and what only they need)"],
    }
