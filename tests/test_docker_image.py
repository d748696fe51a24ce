"""The base image definition: lint, pins and the build command (no engine runs here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import tomllib

from tests.conftest import REPO_ROOT

DOCKER = REPO_ROOT / "docker"


def _bin(name: str) -> str:
    import sys

    return str(Path(sys.executable).with_name(name))


def test_hadolint_passes():
    out = subprocess.run([_bin("hadolint"), str(DOCKER / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_apt_packages_are_pinned():
    text = (DOCKER / "Dockerfile").read_text()
    block = text.split("--no-install-recommends", 1)[1].split("&& rm", 1)[0]
    packages = [p for p in block.replace("\\", " ").split() if p]
    assert packages, "no apt packages found"
    for pkg in packages:
        assert re.fullmatch(r"[a-z0-9.+-]+=[^=\s]+", pkg), f"unpinned apt package: {pkg}"


def test_kubectl_pin_has_checksum():
    pins = dict(
        line.split("=", 1) for line in (DOCKER / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert re.fullmatch(r"v\d+\.\d+\.\d+", pins["KUBECTL_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", pins["KUBECTL_SHA256"])


def test_lock_covers_every_runtime_dependency_with_hashes():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    lock = (DOCKER / "requirements.lock").read_text()
    locked = {m.group(1).lower().replace("_", "-") for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", lock, re.M)}
    for dep in project["dependencies"]:
        name = re.split(r"[<>=!\[ ;]", dep, maxsplit=1)[0].lower().replace("_", "-")
        assert name in locked, f"{name} missing from docker/requirements.lock"
    entries = re.findall(r"^[A-Za-z0-9_.-]+==\S+((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", lock, re.M)
    assert len(entries) == len(locked), "every locked package needs --hash lines"
    assert "--find-links" not in lock and "--index-url" not in lock


def test_build_command_docker_and_buildah():
    for tool, verb in (("docker", ["docker", "build"]), ("buildah", ["buildah", "bud"])):
        out = subprocess.run(["bash", str(REPO_ROOT / "scripts/build-image.sh"), "--tool", tool, "--print"],
                             capture_output=True, text=True, check=True)
        words = out.stdout.split()
        assert words[:2] == verb
        assert "docker/Dockerfile" in words
        assert any(w.startswith("KUBECTL_SHA256=") for w in words)
        assert words[-1] == "."


def test_unknown_tool_is_usage_error():
    out = subprocess.run(["bash", str(REPO_ROOT / "scripts/build-image.sh"), "--tool", "kaniko", "--print"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "kaniko" in out.stderr
