"""`pipekit build` inputs, bad input and the docker path, with a Maven wrapper stand-in (no real Maven).

The stand-in ``./mvnw`` records its arguments and environment, prints Maven-shaped log
lines and writes one Surefire report, so these tests run in a second. The docker CLI
stand-in comes from test_containers (no Docker engine on these machines).
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from pipekit.clients import maven
from tests.clients.test_containers import _calls, make_fake_docker
from tests.steps.test_build import JAVA, clean_env, pipekit_build

MVNW = """#!{python}
import json, os, pathlib, sys
root = pathlib.Path(__file__).resolve().parent
(root / "mvnw-calls.json").write_text(json.dumps({{"argv": sys.argv[1:], \
"maven_opts": os.environ.get("MAVEN_OPTS")}}))
print("[INFO] ------------------------< com.example:greeter >-------------------------")
print("[INFO] Building Greeter service 1.4.2")
print("[INFO] --- compiler:3.13.0:compile (default-compile) @ greeter ---")
print("[INFO] --- surefire:3.2.5:test (default-test) @ greeter ---")
reports = root / "target" / "surefire-reports"
reports.mkdir(parents=True, exist_ok=True)
(reports / "TEST-com.example.FakeTest.xml").write_text(
    '<testsuite name="com.example.FakeTest">\
<testcase classname="com.example.FakeTest" name="works" time="0.01"/>'
    '</testsuite>')
print("[INFO] BUILD SUCCESS")
sys.exit(int(os.environ.get("FAKE_MVN_EXIT", "0")))
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_fake_docker(tmp_path, monkeypatch)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The sample service's pom and Dockerfile with a recording ./mvnw."""
    root = tmp_path / "greeter"
    root.mkdir()
    for name in ("pom.xml", "Dockerfile"):
        (root / name).write_text((JAVA / "service" / name).read_text())
    wrapper = root / "mvnw"
    wrapper.write_text(MVNW.format(python=sys.executable))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return root


def _mvnw_call(project: Path) -> dict | None:
    path = project / "mvnw-calls.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_wrapper_flags_and_docker_path(project: Path, fake_docker: Path, tmp_path: Path) -> None:
    settings = project / "settings.xml"
    settings.write_text("<settings/>")
    record = tmp_path / "run.json"
    env = clean_env(
        BITBUCKET_COMMIT="3f9a2c1d4e5b6a7980123456789abcdef0123456",
        BITBUCKET_TAG="v9.9.9",
        BITBUCKET_REPO_FULL_NAME="acme/greeter",
        PIPEKIT_RUN_RECORD=str(record),
    )
    proc = pipekit_build(
        project,
        "--goals",
        "clean install",
        "--maven-args",
        "-DskipITs -Drevision=9.9.9",
        "--settings",
        str(settings),
        "--local-repo",
        "/cache/.m2/repository",
        "--offline",
        "--maven-opts",
        "-Xmx256m",
        "--image",
        "acme/greeter",
        "--build-arg",
        "JAR_FILE=x.jar",
        "--tag",
        "latest",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    call = _mvnw_call(project)
    assert call == {
        "argv": [
            "-B",
            "-ntp",
            "-Dstyle.color=never",
            "-o",
            "-s",
            str(settings),
            "-Dmaven.repo.local=/cache/.m2/repository",
            "-DskipITs",
            "-Drevision=9.9.9",
            "clean",
            "install",
        ],
        "maven_opts": "-Xmx256m",
    }
    assert "==> greeter: compile (compiler:compile)" in proc.stdout
    builds = [c["argv"] for c in _calls(fake_docker) if c["argv"][0] == "build"]
    assert len(builds) == 1
    argv = builds[0]
    tags = [argv[i + 1] for i, a in enumerate(argv) if a == "--tag"]
    assert tags == [
        "acme/greeter:3f9a2c1",
        "acme/greeter:9.9.9",
        "acme/greeter:9.9",
        "acme/greeter:9",
        "acme/greeter:latest",
    ]
    labels = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--label")
    assert labels["org.opencontainers.image.version"] == "9.9.9"
    assert labels["org.opencontainers.image.revision"] == "3f9a2c1d4e5b6a7980123456789abcdef0123456"
    assert labels["org.opencontainers.image.source"] == "https://bitbucket.org/acme/greeter"
    assert argv[argv.index("--build-arg") + 1] == "JAR_FILE=x.jar"
    assert argv[-1] == "."  # the context: the project directory the step runs in
    outputs = json.loads(record.read_text())["steps"]["build"]["outputs"]
    assert outputs["image_id"] == "sha256:" + "ab" * 32 and outputs["container_tool"] == "docker"
    assert outputs["image_ref"] == "acme/greeter:3f9a2c1" and outputs["tests"]["passed"] == 1


def test_config_file_drives_the_build(project: Path, fake_docker: Path, tmp_path: Path) -> None:
    (project / "pipekit.yaml").write_text(
        "version: 1\nbuild:\n  maven:\n    goals: package\n    offline: true\n"
        "  image:\n    name: acme/from-config\n    tags: [version, sha]\n    sha_length: 8\n"
        "    labels:\n      com.acme.owner: payments\n"
    )
    env = clean_env(
        BITBUCKET_COMMIT="3f9a2c1d4e5b6a7980123456789abcdef0123456",
        PIPEKIT_RUN_RECORD=str(tmp_path / "run.json"),
    )
    proc = pipekit_build(project, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["tags"] == ["1.4.2", "3f9a2c1d"] and result["image"] == "acme/from-config"
    assert result["labels"]["com.acme.owner"] == "payments"
    assert _mvnw_call(project)["argv"][-2:] == ["-o", "package"]  # type: ignore[index]


def test_bad_config_key_is_exit_2_with_file_and_line(project: Path) -> None:
    (project / "pipekit.yaml").write_text("build:\n  maven:\n    gaols: verify\n")
    proc = pipekit_build(project, env=clean_env())
    assert proc.returncode == 2
    assert "pipekit.yaml:2" in proc.stderr and "gaols" in proc.stderr
    assert _mvnw_call(project) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "bad tag!"], "--tag 'bad tag!' is not a valid Docker tag"),
        (["--tag", "x" * 129], "longer than 128 characters"),
        (
            ["--label", "note=two\nlines"],
            "label note: value 'two\\nlines' contains the control character '\\n'",
        ),
        (["--label", "no-equals-sign"], "--label 'no-equals-sign': expected KEY=VALUE"),
        (["--image", "Acme/Greeter"], "'Acme/Greeter' is not a valid image name"),
        (["--dockerfile", "nope/Dockerfile"], "no Dockerfile: nope/Dockerfile does not exist"),
        (["--maven-args", "-Drevision=1.0+final!"], "tag '1.0+final!' is not a valid Docker tag"),
    ],
)
def test_bad_tag_label_or_name_stops_before_anything_is_built(
    project: Path, args: list[str], message: str
) -> None:
    proc = pipekit_build(
        project,
        "--container-tool",
        "buildah",
        *args,
        env=clean_env(BITBUCKET_COMMIT="3f9a2c1d4e5b6a7980123456789abcdef0123456"),
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert _mvnw_call(project) is None  # Maven never ran


def test_no_pom_is_exit_2_naming_the_directory(tmp_path: Path) -> None:
    proc = pipekit_build(tmp_path, "--no-image", env=clean_env())
    assert proc.returncode == 2
    assert f"no pom.xml in {tmp_path.resolve()}" in proc.stderr


def test_maven_missing_is_exit_2_naming_the_tool(project: Path, tmp_path: Path) -> None:
    (project / "mvnw").unlink()
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = pipekit_build(project, "--no-image", env=clean_env(PATH=str(empty)))
    assert proc.returncode == 2
    assert "Maven not found: no ./mvnw in the project and no mvn on PATH" in proc.stderr
    assert "pipekit base image" in proc.stderr


def test_container_tool_missing_is_exit_2(project: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "bin-no-podman"
    bindir.mkdir()
    proc = pipekit_build(project, "--container-tool", "podman", env=clean_env(PATH=str(bindir)))
    assert proc.returncode == 2
    assert "container tool 'podman' not found on PATH" in proc.stderr
    assert _mvnw_call(project) is None


def test_maven_failure_without_tests_exits_1(project: Path, tmp_path: Path) -> None:
    wrapper = project / "mvnw"
    wrapper.write_text(
        wrapper.read_text().replace(
            'print("[INFO] BUILD SUCCESS")',
            (
                'print("[ERROR] Failed to execute goal org.apache.maven.plugins:maven-jar-plugin:3.4.1:jar '
                "(default-jar) on project greeter: You have to use a classifier to "
                'attach supplemental artifacts")'
            ),
        )
    )
    proc = pipekit_build(project, "--no-image", env=clean_env(FAKE_MVN_EXIT="1"))
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(
        "ERROR: Maven build failed: module greeter failed in phase package "
        "(maven-jar-plugin:jar): You have to use a classifier to attach "
        "supplemental artifacts"
    )


def test_truncated_report_is_exit_2_naming_it(project: Path) -> None:
    report = project / "target" / "surefire-reports" / "TEST-com.example.Cut.xml"
    report.parent.mkdir(parents=True)
    report.write_text(
        '<?xml version="1.0"?>\n<testsuite name="x">\n  <testcase classname="a" name="b">\n    <fail'
    )
    proc = pipekit_build(project, "--skip-maven", "--no-image", env=clean_env())
    assert proc.returncode == 2
    assert (
        "ERROR: target/surefire-reports/TEST-com.example.Cut.xml:4:5: unreadable test report (truncated"
        in proc.stderr
    )


# -- Maven log parsing -------------------------------------------------------------------
MAVEN_39_LOG = """\
[INFO] Reactor Build Order:
[INFO] --------------------------< com.acme:orders >---------------------------
[INFO] Building orders 3.2.0-SNAPSHOT                                     [2/2]
[INFO]   from orders/pom.xml
[INFO] --------------------------------[ jar ]---------------------------------
[INFO] --- resources:3.3.1:resources (default-resources) @ orders ---
[INFO] --- compiler:3.13.0:compile (default-compile) @ orders ---
[INFO] --- failsafe:3.2.5:integration-test (default) @ orders ---
[INFO] --- jacoco:0.8.12:report (report) @ orders ---
[ERROR] Failed to execute goal org.apache.maven.plugins:maven-failsafe-plugin:3.2.5:verify (default) \
on project orders: There are test failures.
[ERROR] -> [Help 1]
"""


def test_status_lines_and_failure_from_a_maven_39_log() -> None:
    parser = maven.StatusParser()
    notes = [n for n in (parser.feed(line) for line in MAVEN_39_LOG.splitlines()) if n]
    assert notes == [
        "==> [2/2] orders: process-resources (resources:resources)",
        "==> [2/2] orders: compile (compiler:compile)",
        "==> [2/2] orders: integration-test (failsafe:integration-test)",
        "==> [2/2] orders: report (jacoco:report)",
    ]
    failure = parser.finish(1)
    assert failure is not None and failure.tests_failed
    assert failure.describe() == (
        "module orders failed in phase verify (maven-failsafe-plugin:verify): There are test failures"
    )
    assert parser.modules == ["orders"]


def test_dependency_failure_and_unparsed_failure() -> None:
    parser = maven.StatusParser()
    parser.feed(
        "[ERROR] Failed to execute goal on project api: Could not resolve dependencies for project "
        "com.acme:api:jar:1.0: Cannot access central in offline mode"
    )
    failure = parser.finish(1)
    assert failure is not None and failure.module == "api" and failure.phase == "validate"
    assert "offline mode" in failure.reason
    other = maven.StatusParser()
    other.feed("[ERROR] The goal you specified requires a project to execute but there is no POM")
    last = other.finish(1)
    assert last is not None and "requires a project" in last.reason
    assert maven.StatusParser().finish(0) is None


def test_wrapper_must_be_executable(project: Path) -> None:
    (project / "mvnw").chmod(0o644)
    with pytest.raises(Exception, match="mvnw is not executable"):
        maven.find_executable(project)


@pytest.mark.slow
def test_secret_build_args_come_from_the_environment_not_argv(project: Path, fake_docker: Path) -> None:
    refused = pipekit_build(
        project, "--image", "acme/greeter", "--build-arg", "NPM_TOKEN=s3cr3t-npm-token", env=clean_env()
    )
    assert refused.returncode == 2
    assert (
        "build arg NPM_TOKEN looks like a secret: pass --build-arg NPM_TOKEN without a value"
        in refused.stderr
    )
    assert "s3cr3t-npm-token" not in refused.stderr + refused.stdout
    assert _mvnw_call(project) is None
    missing = pipekit_build(project, "--image", "acme/greeter", "--build-arg", "NPM_TOKEN", env=clean_env())
    assert missing.returncode == 2 and "NPM_TOKEN is not set in the environment" in missing.stderr
    proc = pipekit_build(
        project,
        "--image",
        "acme/greeter",
        "--build-arg",
        "NPM_TOKEN",
        env=clean_env(NPM_TOKEN="s3cr3t-npm-token"),
    )
    assert proc.returncode == 0, proc.stderr
    build = next(c["argv"] for c in _calls(fake_docker) if c["argv"][0] == "build")
    assert build[build.index("--build-arg") + 1] == "NPM_TOKEN"
    assert all("s3cr3t-npm-token" not in " ".join(c["argv"]) for c in _calls(fake_docker))  # type: ignore[arg-type]
    assert "s3cr3t-npm-token" not in proc.stdout + proc.stderr
