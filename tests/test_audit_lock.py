"""scripts/audit_lock.py decides from PyPI's documents; here PyPI is a dict (no network), so each rule can fail."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).parent.parent / "scripts" / "audit_lock.py"
LOCK = SCRIPT.parent.parent / "requirements.lock"
ADVISORY = {"id": "GHSA-xxxx", "aliases": ["CVE-2099-1"], "fixed_in": ["2.0"], "withdrawn": None}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_lock", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_lock"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def audit_lock(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = _load()
    pypi: dict[str, dict[str, Any]] = {
        # per-release endpoint served: exact data
        "https://pypi.org/pypi/served/1.0/json": {"vulnerabilities": [ADVISORY]},
        "https://pypi.org/pypi/clean/3.0/json": {"vulnerabilities": []},
        # per-release endpoint not served: the project document's advisories are the latest release's
        "https://pypi.org/pypi/latest-bad/json": {"info": {"version": "1.5"}, "vulnerabilities": [ADVISORY]},
        "https://pypi.org/pypi/older/json": {"info": {"version": "9.9"}, "vulnerabilities": []},
        "https://pypi.org/pypi/withdrawn/json": {"info": {"version": "1.0"},
                                                 "vulnerabilities": [{**ADVISORY, "withdrawn": "2099-01-01"}]},
    }
    monkeypatch.setattr(module, "_document", pypi.get)
    return module


def test_an_advisory_on_the_exact_release_fails(audit_lock: ModuleType) -> None:
    assert audit_lock.audit("served", "1.0").advisories == ["GHSA-xxxx (CVE-2099-1) fixed in 2.0"]
    assert audit_lock.audit("clean", "3.0").advisories == []


def test_the_project_document_audits_only_the_latest_release(audit_lock: ModuleType) -> None:
    assert audit_lock.audit("latest-bad", "1.5").advisories  # the pin is the latest: its advisories apply
    older = audit_lock.audit("older", "1.0")
    assert older.advisories == [] and older.unaudited is not None and "9.9" in older.unaudited
    assert audit_lock.audit("withdrawn", "1.0").advisories == []
    assert audit_lock.audit("missing", "1.0").unaudited == "not on PyPI"


def test_exit_status_follows_the_findings(audit_lock: ModuleType, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# comment\nclean==3.0\nolder==1.0\n")
    assert audit_lock.main(["audit_lock", str(lock)]) == 0
    lock.write_text("clean==3.0\nserved==1.0\n")
    assert audit_lock.main(["audit_lock", str(lock)]) == 1
    assert "VULNERABLE served==1.0" in capsys.readouterr().err
    lock.write_text("clean>=3.0\n")
    with pytest.raises(SystemExit, match="not an exact pin"):
        audit_lock.main(["audit_lock", str(lock)])


def test_the_lock_pins_every_installed_dependency_exactly() -> None:
    """requirements.lock is what CI installs: every line an exact pin, and pydantic etc. among them."""
    pinned = dict(_load().pins(LOCK))
    names = {name.lower().replace("_", "-") for name in pinned}
    assert {"starlette", "httpx", "pydantic", "boto3", "pytest", "schemathesis", "moto"} <= names
