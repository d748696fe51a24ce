"""The tests run on what the image ships: every package of docker/requirements.lock at its locked version.

scripts/dev installs the lock by hash and the test extras under it as constraints; the
scanners (semgrep, bandit) live in their own environment. This fails when the two drift apart,
for instance when a test dependency drags click or rich to another version.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

LOCK = Path(__file__).resolve().parents[1] / "docker" / "requirements.lock"
PINS = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", LOCK.read_text(), re.M))


def test_the_lock_pins_pipekits_dependencies() -> None:
    for name in ("click", "rich", "boto3", "requests", "pyyaml", "jsonschema", "tenacity", "orjson", "ijson"):
        assert name in PINS, f"{name} missing from {LOCK}"


@pytest.mark.parametrize("name", sorted(PINS))
def test_installed_version_is_the_shipped_one(name: str) -> None:
    installed = importlib.metadata.version(name)
    assert installed == PINS[name], (
        f"{name} {installed} is installed for the tests but the image ships {PINS[name]} "
        f"({LOCK.name}): rerun scripts/dev bootstrap, or update the lock"
    )


@pytest.mark.parametrize("tool", ["semgrep", "bandit"])
def test_scanners_run_as_commands_but_are_not_importable(tool: str) -> None:
    assert importlib.util.find_spec(tool) is None, (
        f"{tool} is importable by pipekit's tests: it must live in .venv-tools"
    )
    assert Path(sys.executable).with_name(tool).exists() or shutil.which(tool), f"{tool} command missing"
