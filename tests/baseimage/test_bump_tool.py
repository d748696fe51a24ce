"""scripts/bump-tool.py: version and checksums change together, and the CHANGELOG says so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.baseimage import manifest
from tests.conftest import REPO_ROOT

SCRIPT = [sys.executable, str(REPO_ROOT / "scripts" / "bump-tool.py")]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    tools = tmp_path / "tools.yaml"
    shutil.copy(REPO_ROOT / "docker" / "tools.yaml", tools)
    log = tmp_path / "CHANGELOG.md"
    log.write_text("# Changelog\n\n## [Unreleased]\n\n### Added\n- something\n\n## [0.1.0]\n")
    return tools, log


def bump(files: tuple[Path, Path], *args: str) -> subprocess.CompletedProcess[str]:
    tools, log = files
    return subprocess.run(
        [*SCRIPT, *args, "--manifest", str(tools), "--changelog", str(log)], capture_output=True, text=True
    )


def test_bump_download_with_per_arch_checksums(files: tuple[Path, Path]):
    out = bump(
        files,
        "kubectl",
        "v1.33.1",
        "--sha256-amd64",
        "1" * 64,
        "--sha256-arm64",
        "2" * 64,
        "--source",
        "dl.k8s.io .sha256 files",
    )
    assert out.returncode == 0, out.stderr
    tool = manifest.load(files[0]).tools["kubectl"]
    assert tool.version == "v1.33.1"
    assert tool.checksums == {"amd64": "sha256:" + "1" * 64, "arm64": "sha256:" + "2" * 64}
    assert tool.source_of_checksum == "dl.k8s.io .sha256 files"
    assert tool.local == {"from": "machine", "command": "kubectl"}  # the rest of the block is kept
    text = files[1].read_text()
    assert "### Changed\n- Base image: kubectl v1.32.5 -> v1.33.1 (checksums updated with it)" in text
    assert manifest.load(files[0]).tools["argocd"].version == "v3.1.9"  # other tools untouched


def test_bump_from_an_upstream_checksum_file(files: tuple[Path, Path], tmp_path: Path):
    sums = tmp_path / "checksums.txt"
    sums.write_text(
        f"{'3' * 64}  kustomize_v5.6.0_linux_amd64.tar.gz\n{'4' * 64}  kustomize_v5.6.0_linux_arm64.tar.gz\n"
        f"{'5' * 64}  kustomize_v5.6.0_darwin_arm64.tar.gz\n"
    )
    out = bump(files, "kustomize", "v5.6.0", "--checksums", str(sums), "--source", "release checksums.txt")
    assert out.returncode == 0, out.stderr
    tool = manifest.load(files[0]).tools["kustomize"]
    assert (
        tool.checksum_for("amd64") == "sha256:" + "3" * 64
        and tool.checksum_for("arm64") == "sha256:" + "4" * 64
    )


def test_a_version_without_every_checksum_is_refused_and_nothing_changes(files: tuple[Path, Path]):
    before = files[0].read_text()
    out = bump(files, "argocd", "v3.2.0", "--sha256-amd64", "6" * 64, "--source", "x")
    assert out.returncode == 2 and "no checksum for arm64" in out.stderr
    assert files[0].read_text() == before and "argocd" not in files[1].read_text()


@pytest.mark.slow
def test_unknown_tool_and_debian_package(files: tuple[Path, Path]):
    unknown = bump(files, "helm", "v3.16.0")
    assert unknown.returncode == 2 and "unknown tool 'helm'" in unknown.stderr
    ok = bump(files, "git", "1:2.39.5-0+deb12u4")
    assert ok.returncode == 0 and manifest.load(files[0]).tools["git"].version == "1:2.39.5-0+deb12u4"
    assert bump(files, "git", "1:2.39.6-1", "--sha256", "7" * 64).returncode == 2
