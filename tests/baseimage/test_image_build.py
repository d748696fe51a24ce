"""The real Dockerfile, built here (scripts/build-image.sh --local), checks itself and is checked again.

The build bootstraps a Debian bookworm base with mmdebstrap, installs the Debian and PyPI parts
for real, fetches this machine's kubectl through a 127.0.0.1 HTTP server and verifies it, and
ends with `pipekit doctor --image`. Then `pipekit doctor --image --json` runs in the image (buildah
run). A fresh machine needs about 6-7 minutes for it; a cached one well under 2.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, check=check)


def test_local_image_builds_and_passes_its_own_doctor(tmp_path: Path) -> None:
    for tool in ("buildah", "mmdebstrap"):
        assert shutil.which(tool), f"{tool} is missing: scripts/dev bootstrap installs it"
    out = subprocess.run(
        ["bash", "scripts/build-image.sh", "--local"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    ref = out.stdout.strip().splitlines()[-1]
    assert ref == "localhost/pipekit-base:0.1.0-local"
    assert "fetch-tool: kubectl kubectl sha256:" in out.stdout and "verified" in out.stdout
    container = _buildah("from", "--pull-never", ref).stdout.strip()
    try:
        doctor = _buildah(
            "run",
            "--isolation",
            "chroot",
            container,
            "--",
            "pipekit",
            "doctor",
            "--image",
            "--json",
            check=False,
        )
        image_json = json.loads(
            _buildah("run", "--isolation", "chroot", container, "--", "cat", "/etc/pipekit/image.json").stdout
        )
        user = _buildah("run", "--isolation", "chroot", container, "--", "id", "-u", "pipekit").stdout.strip()
        runs_as = _buildah("run", "--isolation", "chroot", container, "--", "id", "-u").stdout.strip()
        # what ships in the wheel is enough to rehearse: init's templates, the sample, the rules, the
        # stand-ins. In the image neither buildah nor podman can run (no user namespaces), so its steps run
        # on the image's own machine, up to the security gate (no docker service, no AWS); the machine's
        # Maven repository stands in for Maven Central, as on a developer's machine
        m2 = (
            tmp_path / "m2"
        )  # the machine's repository, its folders readable by the image's user (hard links)
        shutil.copytree(Path.home() / ".m2" / "repository", m2, copy_function=os.link)
        for folder in (m2, *m2.rglob("*")):
            if folder.is_dir():
                folder.chmod(0o755)
        rehearsal = _buildah(
            "run",
            "--isolation",
            "chroot",
            "-v",
            f"{m2}:/home/pipekit/.m2/repository:ro",
            container,
            "--",
            "pipekit",
            "rehearse",
            "--until",
            "Security gate",
            "--channel",
            "teams",
            check=False,
        )
    finally:
        _buildah("rm", container, check=False)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    result = json.loads(doctor.stdout)
    status = {c["name"]: c["status"] for c in result["checks"]}
    for name in (
        "tool:kubectl",
        "tool:git",
        "tool:jq",
        "tool:maven",
        "tool:openjdk-17-jdk-headless",
        "tool:docker",
        "tool:buildah",
        "tool:skopeo",
        "tool:semgrep",
        "python:pipekit",
        "python:locked-dependencies",
        "pipeline:semgrep",
        "pipeline:mvn",
        "pipeline:docker",
        "pipeline:kubectl",
        "pipeline:git",
        "pipeline:pipekit",
    ):
        assert status[name] == "ok", (name, result)
    assert status["tool:trivy"] == "skip" and status["pipeline:trivy"] == "warn"  # no GitHub downloads here
    for name in ("tool:argocd", "tool:aws", "tool:yq", "tool:kustomize", "tool:trivy"):
        assert status[name] == "skip"
        assert image_json["tools"][name.split(":")[1]]["included"] is False
    assert image_json["tools"]["maven"]["version"] == "3.8.7-1"  # Debian's, and the image says so
    assert user == "1000" and runs_as == "1000"  # the image runs as its pipekit user
    assert rehearsal.returncode == 0, rehearsal.stdout[-3000:] + rehearsal.stderr[-2000:]
    assert re.search(
        r"^pipekit init 0\.1\.0: \d+ files \(\d+ create\), GitOps commit ", rehearsal.stdout, re.M
    )
    for step in ("Unit tests", "SAST", "SCA", "Security gate"):  # semgrep from its own virtualenv
        assert re.search(rf"^{step}\s+passed\s", rehearsal.stdout, re.M), step
    assert "rehearsal finished: stopped after Security gate" in rehearsal.stdout

    # from this machine, the steps run in the image just built: it holds this very pipekit
    from pipekit.rehearsal import pipeline

    assert pipeline.holds_this_pipekit(ref, dict(os.environ))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BITBUCKET_", "PIPEKIT_", "AWS_"))}
    in_image = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipekit",
            "rehearse",
            "--image",
            ref,
            "--until",
            "Deploy to dev",
            "--channel",
            "teams",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "NO_COLOR": "1", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert in_image.returncode == 0, in_image.stdout[-4000:] + in_image.stderr[-2000:]
    assert f"where: every step ran in the local image {ref}" in in_image.stdout
    assert re.search(r"^Deploy to dev\s+passed\s", in_image.stdout, re.M)
    labels = json.loads(_buildah("inspect", "--type", "image", ref).stdout)["Docker"]["config"]["Labels"]
    assert labels["io.pipekit.tool.argocd"].startswith("not in the image: left out of the local variant")
    assert labels["io.pipekit.tool.kubectl"].startswith("v1.32.5 | this machine's")
