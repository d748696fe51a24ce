"""No Python code is run from the working directory (issue 23, items 5 and 19).

``doctor``'s import check starts a child interpreter: a ``yaml.py`` in the current folder must not be
imported (and executed) in it, and must not make the check pass. Custom promotion gates load from
installed modules or a path the config names, the same under ``python -m pipekit`` and the
``pipekit`` console script; a module of the same name in the current folder is never imported.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_pipekit

PLANTED = "import pathlib; pathlib.Path({marker!r}).write_text('ran from the working directory')\n"


def _plant(folder: Path, module: str) -> Path:
    marker = folder / f"{module}.ran"
    (folder / f"{module}.py").write_text(PLANTED.format(marker=str(marker)))
    return marker


def _manifest(folder: Path) -> Path:
    (folder / "requirements.lock").write_text(
        f"pyyaml=={md.version('pyyaml')}\nclick=={md.version('click')}\n"
    )
    manifest = folder / "tools.yaml"
    manifest.write_text(
        "tools:\n  pipekit: {version: from-pyproject, kind: python, lock: requirements.lock}\n"
    )
    return manifest


def test_doctor_import_check_ignores_modules_in_the_working_directory(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    marker = _plant(tmp_path, "yaml")
    proc = run_pipekit("doctor", "--manifest", str(manifest), "--json", cwd=tmp_path)
    assert not marker.exists(), "doctor executed ./yaml.py"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["python:locked-dependencies"]["status"] == "ok"


def test_doctor_import_check_fails_when_a_module_is_not_the_installed_one(tmp_path: Path) -> None:
    """A module shadowing an installed one (here through PYTHONPATH, which an isolated child ignores
    anyway) must not count as the locked distribution: the child imports only what is installed."""
    from pipekit.diagnostics.python_deps import import_in_child

    shadow = tmp_path / "shadow"
    shadow.mkdir()
    marker = _plant(shadow, "yaml")
    env = {**os.environ, "PYTHONPATH": str(shadow)}
    old = os.environ.copy()
    os.environ.update(env)
    try:
        assert import_in_child({"yaml": "pyyaml"}) == []
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert not marker.exists()


def test_rollback_wait_child_runs_isolated_from_the_working_directory(tmp_path: Path) -> None:
    from pipekit import rollback

    argv = rollback.wait_argv("prod", "a" * 40)
    assert argv[1] == "-P" or "-I" in argv[1:3]


GATE = """
from pipekit.promotion.gates import GateResult

def evaluate(request, ctx):
    return GateResult(True, "the team's gate says yes")
"""


def _promote_world(tmp_path: Path, gate: str) -> tuple[Path, Path]:
    from tests.fixtures.gitops.repo import make_repo

    bare, _ = make_repo(tmp_path, ["orders"])
    work = tmp_path / "service"
    work.mkdir()
    (work / "pipekit.yaml").write_text(
        f"gitops:\n  repo: {bare}\n  renderer: none\nenvironments:\n  dev: {{promotion: auto}}\n"
        f"  qa:\n    promotion: gated\n    gates: [{gate}]\n"
    )
    return bare, work


def _console_script(tmp_path: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``pipekit`` console script as pip writes it (sys.path[0] is its own folder, not the cwd)."""
    script = tmp_path / "bin" / "pipekit"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom pipekit.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("how", ["module", "script"])
def test_a_gate_module_in_the_working_directory_is_not_imported(tmp_path: Path, how: str) -> None:
    _, work = _promote_world(tmp_path, "teamgate:evaluate")
    marker = _plant(work, "teamgate")
    args = ["promote", "--from", "dev", "--to", "qa", "--service", "orders"]
    proc = run_pipekit(*args, cwd=work) if how == "module" else _console_script(tmp_path, args, work)
    assert not marker.exists(), f"{how}: the gate was imported from the working directory"
    assert proc.returncode == 1, proc.stderr
    assert "teamgate is not installed" in proc.stderr


@pytest.mark.parametrize("how", ["module", "script"])
def test_a_gate_file_the_config_names_loads_the_same_both_ways(tmp_path: Path, how: str) -> None:
    _, work = _promote_world(tmp_path, "gates/teamgate.py:evaluate")
    (work / "gates").mkdir()
    (work / "gates" / "teamgate.py").write_text(GATE)
    args = ["promote", "--from", "dev", "--to", "qa", "--service", "orders", "--json"]
    proc = run_pipekit(*args, cwd=work) if how == "module" else _console_script(tmp_path, args, work)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "pushed"


def test_a_gate_that_raises_refuses_the_promotion_with_exit_1(tmp_path: Path) -> None:
    bare, work = _promote_world(tmp_path, "gates/broken.py:evaluate")
    (work / "gates").mkdir()
    (work / "gates" / "broken.py").write_text(
        "def evaluate(request, ctx):\n    raise KeyError('no such key')\n"
    )
    proc = run_pipekit("promote", "--from", "dev", "--to", "qa", "--service", "orders", cwd=work)
    assert proc.returncode == 1, proc.stderr
    assert "gate 'gates/broken.py:evaluate' failed: KeyError" in proc.stderr
