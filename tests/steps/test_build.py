"""`pipekit build` with real Maven (offline, pinned plugins) and a real buildah image build.

Real Maven runs are slow on a busy machine, so each variant is built once per session
(module-scoped fixtures): the single-module service with an image, the failing-test variant,
the two-module variant, and the two-module variant with a compile error. Everything else
uses a Maven wrapper stand-in (``./mvnw`` is preferred over mvn, as in real projects).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from pipekit.build import BuildOptions, run
from pipekit.core.step import StepContext
from tests.conftest import REPO_ROOT, git

JAVA = Path(__file__).parents[1] / "fixtures" / "java"
needs_maven = pytest.mark.skipif(shutil.which("mvn") is None, reason="Maven not installed")
needs_buildah = pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah not installed")


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BITBUCKET_", "PIPEKIT_", "ARGOCD_")) and not k.endswith("_WEBHOOK_URL")
    }
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def pipekit_build(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipekit", "build", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def checkout(src: Path, dest: Path) -> str:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("target"))
    git("init", "-q", "-b", "main", cwd=dest)
    git("add", ".", cwd=dest)
    git(
        "-c",
        "user.email=dev@example.com",
        "-c",
        "user.name=Dev",
        "commit",
        "-q",
        "-m",
        "Sample service",
        cwd=dest,
    )
    return git("rev-parse", "HEAD", cwd=dest)


@dataclass
class Built:
    proc: subprocess.CompletedProcess[str]
    project: Path
    record: dict
    commit: str
    image: str


def _record(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _remove_image(image: str) -> None:
    listed = subprocess.run(["buildah", "images", "--json", "--no-trunc"], capture_output=True, text=True)
    refs = [
        n
        for item in json.loads(listed.stdout or "[]")
        for n in item.get("names") or []
        if n.startswith(image + ":")
    ]
    if refs:
        subprocess.run(["buildah", "rmi", *refs], capture_output=True, check=False)


# -- real Maven + buildah: the single-module service -----------------------------------
@pytest.fixture(scope="module")
def service_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    if shutil.which("mvn") is None or shutil.which("buildah") is None:
        pytest.skip("needs Maven and buildah")
    base = tmp_path_factory.mktemp("service")
    project = base / "greeter"
    commit = checkout(JAVA / "service", project)
    image = f"localhost/pipekit-build-{uuid.uuid4().hex[:8]}"
    record = base / "run.json"
    env = clean_env(
        BITBUCKET_BUILD_NUMBER="42",
        BITBUCKET_BRANCH="feature/JIRA-7 Greeting",
        BITBUCKET_COMMIT=commit,
        BITBUCKET_REPO_SLUG="greeter",
        BITBUCKET_WORKSPACE="acme",
        PIPEKIT_RUN_RECORD=str(record),
    )
    proc = pipekit_build(
        project,
        "--offline",
        "--container-tool",
        "buildah",
        "--image",
        image,
        "--junit-out",
        "test-results/pipekit-junit.xml",
        "--label",
        "com.example.team=payments",
        "--build-arg",
        "JAR_FILE=target/greeter.jar",
        env=env,
    )
    try:
        yield Built(proc, project, _record(record), commit, image)
    finally:
        _remove_image(image)


@pytest.mark.slow
@needs_maven
@needs_buildah
def test_service_builds_tests_and_image(service_build: Built) -> None:
    proc = service_build.proc
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = proc.stdout
    # Maven's log streamed live, with one status line per phase before that phase's output
    assert (
        out.index("==> greeter: compile (compiler:compile)")
        < out.index("==> greeter: test (surefire:test)")
        < out.index("Tests run: 2, Failures: 0")
        < out.index("[INFO] BUILD SUCCESS")
    )
    assert "Tests: 2 total, 2 passed, 0 failed, 0 errored, 0 skipped, 0 flaky" in out
    step = service_build.record["steps"]["build"]
    assert step["status"] == "succeeded"
    o = step["outputs"]
    short = service_build.commit[:7]
    assert o["image"] == service_build.image
    assert o["tags"] == [short, "build-42", "1.4.2", "feature-jira-7-greeting"]
    assert o["image_ref"] == f"{service_build.image}:{short}"
    assert o["version"] == "1.4.2" and o["container_tool"] == "buildah"
    assert o["source_commit"] == service_build.commit
    assert datetime.fromisoformat(o["source_committed_at"])
    assert o["tests"]["total"] == 2 and o["tests"]["passed"] == 2 and o["tests"]["failing"] == []


@pytest.mark.slow
@needs_maven
@needs_buildah
def test_image_labels_tags_and_content_read_back_with_buildah(service_build: Built) -> None:
    o = service_build.record["steps"]["build"]["outputs"]
    info = json.loads(
        subprocess.run(
            ["buildah", "inspect", "--type", "image", o["image_ref"]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert "sha256:" + info["FromImageID"] == o["image_id"]
    labels = info["OCIv1"]["config"]["Labels"]
    assert labels["org.opencontainers.image.revision"] == service_build.commit
    assert labels["org.opencontainers.image.source"] == "https://bitbucket.org/acme/greeter"
    assert labels["org.opencontainers.image.version"] == "1.4.2"
    assert labels["org.opencontainers.image.title"] == "greeter"
    assert datetime.fromisoformat(labels["org.opencontainers.image.created"].replace("Z", "+00:00"))
    assert labels["com.example.team"] == "payments"
    listed = json.loads(
        subprocess.run(
            ["buildah", "images", "--json", "--no-trunc", o["image_ref"]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert sorted(listed[0]["names"]) == sorted(f"{o['image']}:{t}" for t in o["tags"])
    # the jar Maven built is the jar in the image
    container = subprocess.run(
        ["buildah", "from", o["image_ref"]], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        mount = subprocess.run(
            ["buildah", "mount", container], capture_output=True, text=True, check=True
        ).stdout.strip()
        image_jar = Path(mount) / "app" / "app.jar"
        assert image_jar.read_bytes() == (service_build.project / "target" / "greeter.jar").read_bytes()
    finally:
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)


@needs_maven
@needs_buildah
def test_merged_junit_written_for_bitbucket(service_build: Built) -> None:
    import xml.etree.ElementTree as ET

    root = ET.parse(service_build.project / "test-results" / "pipekit-junit.xml").getroot()
    assert root.get("tests") == "2" and root.get("failures") == "0"
    assert {tc.get("name") for tc in root.iter("testcase")} == {
        "greetsByName",
        "greetsTheWorldWhenNameIsBlank",
    }


# -- real Maven: failing tests -----------------------------------------------------------
@pytest.fixture(scope="module")
def failing_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    if shutil.which("mvn") is None or shutil.which("buildah") is None:
        pytest.skip("needs Maven and buildah")
    base = tmp_path_factory.mktemp("failing")
    project = base / "greeter-failing"
    commit = checkout(JAVA / "failing", project)
    image = f"localhost/pipekit-build-fail-{uuid.uuid4().hex[:8]}"
    record = base / "run.json"
    proc = pipekit_build(
        project,
        "--offline",
        "--container-tool",
        "buildah",
        "--image",
        image,
        "--json",
        "--maven-output",
        "status",
        "--maven-args",
        "-Dsurefire.rerunFailingTestsCount=1",
        "--junit-out",
        "test-results/junit.xml",
        env=clean_env(PIPEKIT_RUN_RECORD=str(record)),
    )
    try:
        yield Built(proc, project, _record(record), commit, image)
    finally:
        _remove_image(image)


@pytest.mark.slow
@needs_maven
@needs_buildah
def test_failing_tests_exit_1_naming_them(failing_build: Built) -> None:
    proc = failing_build.proc
    assert proc.returncode == 1, proc.stderr[-3000:]
    error = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR: 2 test(s) failed")]
    assert len(error) == 1
    assert "com.example.greeter.BrokenTest.shoutsTheGreeting: greeting should be upper case" in error[0]
    assert "com.example.greeter.BrokenTest.readsTheConfig: config file greeter.yaml not found;" in error[0]
    assert "[module greeter-failing, phase test]" in error[0]
    assert "second line of the message" not in error[0]  # first line of the message only
    payload = json.loads(proc.stdout)
    assert payload["exit_code"] == 1
    tests = payload["result"]["tests"]
    assert (
        tests["total"],
        tests["passed"],
        tests["failed"],
        tests["errored"],
        tests["skipped"],
        tests["flaky"],
    ) == (6, 3, 1, 1, 1, 1)
    assert tests["flaky_tests"][0]["name"] == "passesOnTheSecondTry"
    # status mode: no Maven log lines, but the status lines and the failing tail
    assert "==> greeter-failing: test (surefire:test)" in proc.stderr
    assert "[INFO] Compiling" not in proc.stderr


@pytest.mark.slow
@needs_maven
@needs_buildah
def test_failing_tests_recorded_and_no_image_built(failing_build: Built) -> None:
    step = failing_build.record["steps"]["build"]
    assert step["status"] == "failed"
    assert step["outputs"]["tests"]["failed"] == 1 and step["outputs"]["tests"]["errored"] == 1
    assert "image_id" not in step["outputs"]
    assert (
        subprocess.run(
            ["buildah", "inspect", "--type", "image", f"{failing_build.image}:x"], capture_output=True
        ).returncode
        != 0
    )
    listed = subprocess.run(["buildah", "images", "--json"], capture_output=True, text=True).stdout
    assert failing_build.image not in listed
    junit = (failing_build.project / "test-results" / "junit.xml").read_text(encoding="utf-8")
    assert 'failures="1"' in junit and 'errors="1"' in junit


# -- real Maven: two modules ---------------------------------------------------------------
@pytest.mark.slow
@needs_maven
def test_two_module_build_through_the_library_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "shop"
    commit = checkout(JAVA / "multi", project)
    monkeypatch.chdir(project)
    ctx = StepContext.create(env=clean_env(PIPEKIT_RUN_RECORD=str(tmp_path / "run.json")), cwd=project)
    result = run(BuildOptions(project_dir=project, offline=True, no_image=True), ctx)
    assert result.version == "2.0.0-SNAPSHOT" and result.source_commit == commit
    assert result.image is None and result.image_id is None
    assert (result.tests["total"], result.tests["passed"]) == (3, 3)  # PriceTest (api) + BasketTest (app)
    out = capsys.readouterr().out
    assert out.index("==> [2/3] shop-api: test") < out.index("==> [3/3] shop-app: test")
    assert (project / "app" / "target" / "shop-app.jar").is_file()


@pytest.mark.slow
@needs_maven
def test_compile_error_exits_1_naming_module_and_phase(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    shutil.copytree(JAVA / "multi", project, ignore=shutil.ignore_patterns("target"))
    basket = project / "app" / "src" / "main" / "java" / "com" / "example" / "shop" / "app" / "Basket.java"
    basket.write_text(basket.read_text().replace("return this;", "return this"))
    record = tmp_path / "run.json"
    proc = pipekit_build(
        project, "--offline", "--no-image", "--goals", "verify", env=clean_env(PIPEKIT_RUN_RECORD=str(record))
    )
    assert proc.returncode == 1, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith(
        "ERROR: Maven build failed: module shop-app failed in phase compile "
        "(maven-compiler-plugin:compile): Compilation failure: "
    )
    assert "Basket.java:[13,20] ';' expected" in error
    assert json.loads(record.read_text())["steps"]["build"]["status"] == "failed"
