"""pipekit run-pipeline against real git repositories, real buildah containers and real podman services.

Each of Bitbucket's rules has a small pipeline that shows it. The image steps run in a tiny image
built here from Debian's static busybox (FROM scratch), so a command the image lacks really is
missing; steps without a local image run on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.core.errors import CheckFailed
from pipekit.core.step import StepContext
from pipekit.run_pipeline import RunPipelineOptions, RunPipelineResult, run
from tests.conftest import REPO_ROOT, git, run_pipekit

pytestmark = pytest.mark.slow  # real buildah containers and podman services

BUSYBOX = "/bin/busybox"  # Debian's busybox-static: a static binary that runs in an empty image


@pytest.fixture(scope="session")
def busybox_image() -> Iterator[str]:
    """``localhost/pipekit-test-busybox``: FROM scratch plus a static busybox and its applet links."""
    name = f"localhost/pipekit-test-busybox:{os.getpid()}"

    def buildah(*args: str) -> str:
        return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()

    container = buildah("from", "scratch")
    try:
        buildah("copy", container, BUSYBOX, "/bin/busybox")
        buildah("run", "--isolation", "chroot", container, "--", "/bin/busybox", "--install", "-s", "/bin")
        buildah("config", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", container)
        buildah("commit", "-q", container, name)
    finally:
        buildah("rm", container)
    yield name
    subprocess.run(["buildah", "rmi", name], capture_output=True)


def make_repo(tmp_path: Path, pipeline: str, files: dict[str, str] | None = None) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("config", "user.email", "dev@example.com", cwd=repo)
    git("config", "user.name", "Dev", cwd=repo)
    (repo / "bitbucket-pipelines.yml").write_text(pipeline)
    for name, text in (files or {}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "Add the pipeline", cwd=repo)
    return repo


def pipeline_run(repo: Path, tmp_path: Path, **kw: object) -> RunPipelineResult:
    """The Python API; a failed pipeline's result comes back too (from the CheckFailed it raises)."""
    kw.setdefault("cache_dir", tmp_path / "cache")
    options = RunPipelineOptions(file=repo / "bitbucket-pipelines.yml", ask=False, **kw)  # type: ignore[arg-type]
    ctx = StepContext.create(env=dict(os.environ), cwd=repo)
    try:
        return run(options, ctx)
    except CheckFailed as exc:
        assert isinstance(exc.result, RunPipelineResult)
        return exc.result


def statuses(result: RunPipelineResult) -> dict[str, str]:
    return {s.name: s.status for s in result.steps}


def log_of(result: RunPipelineResult, name: str) -> str:
    step = next(s for s in result.steps if s.name == name)
    assert step.log is not None
    return Path(step.log).read_text()


def test_only_declared_artifacts_reach_later_steps_and_every_parallel_one_arrives(
    tmp_path: Path, busybox_image: str
) -> None:
    repo = make_repo(
        tmp_path,
        f"""
image: {busybox_image}
pipelines:
  branches:
    main:
      - step:
          name: Build
          script:
            - mkdir -p dist && echo jar > dist/app.jar && echo stray > notes.txt
          artifacts: [dist/**]
      - parallel:
          - step:
              name: Left
              script: [mkdir -p out, echo left > out/left.txt, test -f dist/app.jar, test ! -f notes.txt]
              artifacts: [out/left.txt]
          - step:
              name: Right
              script: [mkdir -p out, echo right > out/right.txt]
              artifacts: [out/*.txt]
      - step:
          name: Check
          script: [cat dist/app.jar out/left.txt out/right.txt, test ! -f notes.txt]
      - step:
          name: No download
          artifacts:
            download: false
          script: [test ! -e dist]
""",
    )
    result = pipeline_run(repo, tmp_path, workdir=tmp_path / "work")
    assert result.status == "passed", result
    assert statuses(result) == {
        "Build": "passed",
        "Left": "passed",
        "Right": "passed",
        "Check": "passed",
        "No download": "passed",
    }
    steps = {s.name: s for s in result.steps}
    assert steps["Build"].artifacts == ["dist/app.jar"] and steps["Right"].artifacts == ["out/right.txt"]
    assert steps["Check"].artifacts_restored == 3 and steps["No download"].artifacts_restored == 0
    assert {s.execution for s in result.steps} == {"image"}
    assert "jar\nleft\nright" in log_of(result, "Check")


def test_an_image_built_in_one_step_is_absent_from_the_next_steps_docker_service(
    tmp_path: Path, busybox_image: str
) -> None:
    repo = make_repo(
        tmp_path,
        f"""
image: {busybox_image}
pipelines:
  default:
    - step:
        name: Build image
        services: [docker]
        script:
          - docker build -t orders:1 .
          - docker image inspect orders:1 --format '{{{{.Id}}}}'
    - step:
        name: Push image
        services: [docker]
        script:
          - docker image inspect orders:1
""",
        {"Dockerfile": "FROM scratch\nCOPY Dockerfile /\n"},
    )
    result = pipeline_run(repo, tmp_path, trigger="default", workdir=tmp_path / "work")
    assert statuses(result) == {"Build image": "passed", "Push image": "failed"}
    push = result.steps[1]
    assert push.reason == "script failed: `docker image inspect orders:1` exited 1"
    assert (
        "No such image" in log_of(result, "Push image")
        or "no such image" in log_of(result, "Push image").lower()
    )
    assert result.failed_step == "Push image"


def test_after_script_sees_the_exit_code_and_cannot_change_the_result(
    tmp_path: Path, busybox_image: str
) -> None:
    repo = make_repo(
        tmp_path,
        f"""
image: {busybox_image}
pipelines:
  default:
    - step:
        name: Passes
        script: [echo ok]
        after-script:
          - echo "after saw $BITBUCKET_EXIT_CODE"
          - exit 3
          - echo never
    - step:
        name: Fails
        script:
          - echo one
          - sh -c 'exit 7'
          - echo never reached
        after-script:
          - echo "after saw $BITBUCKET_EXIT_CODE"
""",
    )
    result = pipeline_run(repo, tmp_path, trigger="default", workdir=tmp_path / "work")
    passes, fails = result.steps
    assert passes.status == "passed" and passes.after_script_exit_code == 3
    assert "after saw 0" in log_of(result, "Passes") and "never" not in log_of(result, "Passes")
    assert fails.status == "failed" and fails.exit_code == 7 and fails.after_script_exit_code == 0
    assert fails.reason == "script failed: `sh -c 'exit 7'` exited 7"
    log = log_of(result, "Fails")
    assert "after saw 7" in log and "never reached" not in log


MANUAL = """
pipelines:
  branches:
    main:
      - step:
          name: Build
          script: [mkdir -p out, echo built > out/build.txt]
          artifacts: [out/**]
      - step:
          name: Deploy to prod
          deployment: prod
          trigger: manual
          script: [cat out/build.txt, echo "deploying to $BITBUCKET_DEPLOYMENT_ENVIRONMENT"]
"""


def test_a_manual_step_pauses_the_run_and_from_or_approve_continues_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, MANUAL)
    work = tmp_path / "work"
    cli = run_pipekit(
        "run-pipeline", "--json", "--workdir", str(work), "--cache-dir", str(tmp_path / "cache"), cwd=repo
    )
    assert cli.returncode == 0, cli.stderr
    paused = json.loads(cli.stdout)
    assert paused["status"] == "paused" and paused["paused_at"] == "Deploy to prod"
    assert [s["status"] for s in paused["steps"]] == ["passed", "paused"]

    resumed = pipeline_run(repo, tmp_path, workdir=work, from_step="Deploy to prod")
    assert statuses(resumed) == {"Build": "skipped", "Deploy to prod": "passed"}
    assert resumed.build_number == paused["build_number"]  # the same run, continued
    assert "built\n" in log_of(resumed, "Deploy to prod") and "deploying to prod" in log_of(
        resumed, "Deploy to prod"
    )

    approved = pipeline_run(repo, tmp_path, approve=["prod"])
    assert approved.status == "passed" and approved.build_number == paused["build_number"] + 1


def test_a_cache_is_saved_only_after_success_and_never_overwritten(tmp_path: Path) -> None:
    pipeline = """
definitions:
  caches:
    deps:
      key:
        files: [deps.lock]
      path: ~/.deps
pipelines:
  default:
    - step:
        name: Fill
        caches: [deps]
        script:
          - cat ~/.deps/value 2>/dev/null || echo "no cache"
          - mkdir -p ~/.deps && echo "$VALUE" > ~/.deps/value
          - test "$FAIL" != yes
"""
    repo = make_repo(tmp_path, pipeline, {"deps.lock": "v1\n"})
    cache = tmp_path / "cache"

    def once(value: str, fail: str) -> RunPipelineResult:
        env_file = tmp_path / "v.env"
        env_file.write_text(f"VALUE={value}\nFAIL={fail}\n")
        return pipeline_run(
            repo,
            tmp_path,
            trigger="default",
            variables=[env_file],
            cache_dir=cache,
            workdir=tmp_path / "work",
        )

    first = once("first", "yes")
    assert first.status == "failed" and first.steps[0].caches == {"deps": "missing"}
    assert not (cache / "caches" / "deps").exists()  # a failed step saves no cache
    second = once("second", "no")
    assert second.steps[0].caches == {"deps": "missing, saved"}
    third = once("third", "no")
    assert third.steps[0].caches == {"deps": "restored, exists"}
    assert "second" in log_of(third, "Fill")
    stored = list((cache / "caches" / "deps").glob("*/content/value"))
    assert len(stored) == 1 and stored[0].read_text() == "second\n"  # never overwritten
    cleared = pipeline_run(
        repo, tmp_path, trigger="default", cache_dir=cache, clear_caches=True, variables=[tmp_path / "v.env"]
    )
    assert cleared.steps[0].caches == {"deps": "missing, saved"}


def test_only_bitbucket_and_your_variables_reach_a_step_and_secured_ones_are_masked(
    tmp_path: Path, busybox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELL_ONLY", "from-your-shell")
    repo = make_repo(
        tmp_path,
        f"""
pipelines:
  default:
    - step:
        name: On this machine
        script:
          - echo "shell=${{SHELL_ONLY:-unset}} secret=$API_TOKEN plain=$PLAIN"
          - env
    - step:
        name: In the image
        image: {busybox_image}
        script:
          - echo "shell=${{SHELL_ONLY:-unset}} secret=$API_TOKEN"
          - env
""",
    )
    variables = tmp_path / "vars.yml"
    variables.write_text(
        "repository:\n  PLAIN: visible\n  API_TOKEN: {value: tok-s3cr3t-42, secured: true}\n"
    )
    cli = run_pipekit(
        "run-pipeline",
        "--trigger",
        "default",
        "--json",
        "--variables",
        str(variables),
        "--workdir",
        str(tmp_path / "work"),
        "--cache-dir",
        str(tmp_path / "c"),
        cwd=repo,
    )
    assert cli.returncode == 0, cli.stderr
    assert "tok-s3cr3t-42" not in cli.stdout + cli.stderr
    for step in json.loads(cli.stdout)["steps"]:
        log = Path(step["log"]).read_text()
        assert "shell=unset secret=***" in log and "tok-s3cr3t-42" not in log and "SHELL_ONLY=" not in log
        names = {line.split("=", 1)[0] for line in log.splitlines() if "=" in line and line[:1].isupper()}
        unexpected = {n for n in names if not n.startswith("BITBUCKET_")} - {
            "CI",
            "API_TOKEN",
            "PLAIN",
            "PATH",
            "HOME",
            "TMPDIR",
            "LANG",
            "PWD",
            "OLDPWD",
            "SHLVL",
            "HOSTNAME",
            "_",
        }
        assert not unexpected, step["name"]
    assert "plain=visible" in cli.stderr
    leaked = [p for p in (tmp_path / "work").rglob("*") if p.is_file() and b"tok-s3cr3t-42" in p.read_bytes()]
    assert leaked == []  # not in the environment file, the raw output or the state either


def test_a_command_missing_from_the_image_fails_the_step(tmp_path: Path, busybox_image: str) -> None:
    repo = make_repo(
        tmp_path,
        f"image: {busybox_image}\npipelines:\n  default:\n    - step:\n        name: Git\n"
        "        script: [git --version]\n",
    )
    result = pipeline_run(repo, tmp_path, trigger="default")
    step = result.steps[0]
    assert step.status == "failed" and step.exit_code == 127 and step.execution == "image"
    assert step.reason == "script failed: `git --version` exited 127"


def test_max_time_stops_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipekit.pipelines import stepexec

    monkeypatch.setattr(stepexec, "MINUTE_S", 0.5)  # max-time 1 = half a second here
    repo = make_repo(
        tmp_path,
        "pipelines:\n  default:\n    - step:\n        name: Slow\n        max-time: 1\n"
        "        script: [sleep 30]\n",
    )
    began = time.monotonic()
    result = pipeline_run(repo, tmp_path, trigger="default")
    assert time.monotonic() - began < 20
    assert result.steps[0].status == "timed-out" and "max-time of 1 minute" in (result.steps[0].reason or "")


def test_clone_depth_branch_and_changesets(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        """
clone:
  depth: 2
pipelines:
  branches:
    main:
      - step:
          name: History
          script: [test "$(git rev-list --count HEAD)" = 2, test "$(git rev-parse --abbrev-ref HEAD)" = main,
                   test "$PWD" = "$BITBUCKET_CLONE_DIR", test "$(git rev-parse HEAD)" = "$BITBUCKET_COMMIT"]
      - step:
          name: Docs changed
          condition:
            changesets:
              includePaths: ["docs/**"]
          script: [echo docs]
      - step:
          name: Code changed
          clone:
            depth: full
          condition:
            changesets:
              includePaths: ["src/**"]
          script: [test "$(git rev-list --count HEAD)" = 3]
""",
        {"src/a.txt": "1\n"},
    )
    for n in (2, 3):
        (repo / "src" / "a.txt").write_text(f"{n}\n")
        git("commit", "-qam", f"change {n}", cwd=repo)
    result = pipeline_run(repo, tmp_path)
    assert statuses(result) == {"History": "passed", "Docs changed": "skipped", "Code changed": "passed"}


def test_bad_input_is_exit_2_naming_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, MANUAL.replace("name: Build", "name: Build\n          scrpit: [x]"))
    typo = run_pipekit("run-pipeline", cwd=repo)
    assert (
        typo.returncode == 2 and "bitbucket-pipelines.yml:7: unknown keyword 'scrpit' in step" in typo.stderr
    )
    (repo / "bitbucket-pipelines.yml").write_text(MANUAL)
    git("commit", "-qam", "fix", cwd=repo)
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "envs.yml").write_text("deployments:\n  staging: {}\n")
    for args, words in (
        (["--trigger", "push:main"], "--trigger 'push:main': unknown trigger"),
        (
            ["--variables", str(tmp_path / "envs.yml")],
            "deploys to 'prod', an environment the variables files do not declare",
        ),
        (["--approve", "Deploy to qa"], "--approve 'Deploy to qa': no such step"),
        (["--variables", str(tmp_path / "broken.json")], "broken.json: malformed JSON"),
    ):
        cli = run_pipekit("run-pipeline", "--cache-dir", str(tmp_path / "c"), *args, cwd=repo)
        assert cli.returncode == 2 and words in cli.stderr, (args, cli.stderr)
    none = run_pipekit("run-pipeline", "--trigger", "tag:v1", "--cache-dir", str(tmp_path / "c"), cwd=repo)
    assert none.returncode == 2 and "no tag 'v1'" in none.stderr
    git("tag", "v1", cwd=repo)
    none = run_pipekit("run-pipeline", "--trigger", "tag:v1", "--cache-dir", str(tmp_path / "c"), cwd=repo)
    assert none.returncode == 1 and "Bitbucket would start no pipeline for tag:v1" in none.stderr


def leftovers() -> tuple[set[str], set[str], str]:
    containers = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"], capture_output=True, text=True
    ).stdout.split()
    services = {p for p in Path("/tmp").glob("pkd*")}
    procs = subprocess.run(["pgrep", "-af", "podman .*system service"], capture_output=True, text=True).stdout
    return {c for c in containers if c.startswith("pipekit-run-")}, {str(p) for p in services}, procs


PARALLEL_SLEEPERS = """
image: {image}
pipelines:
  default:
    - parallel:
        - step:
            name: Sleeper
            services: [docker]
            script: [echo sleeping, sleep 60]
        - step:
            name: Host sleeper
            image: not/a-local-image
            script: [echo sleeping too, sleep 60]
"""
SEQUENTIAL_SLEEPER = """
image: {image}
definitions:
  caches:
    deps: ~/.deps
pipelines:
  default:
    - step:
        name: Fill
        caches: [deps]
        script: [mkdir -p ~/.deps, echo x > ~/.deps/x]
    - step:
        name: Sleeper
        services: [docker]
        caches: [deps]
        script: [echo sleeping, echo sleeping, sleep 60]
"""


@pytest.mark.parametrize(
    "sig, code, pipeline",
    [
        (signal.SIGTERM, 143, PARALLEL_SLEEPERS),
        (signal.SIGINT, 130, PARALLEL_SLEEPERS),
        (signal.SIGTERM, 143, SEQUENTIAL_SLEEPER),
    ],
)
def test_a_signal_stops_the_run_and_leaves_no_trace(
    tmp_path: Path, busybox_image: str, sig: int, code: int, pipeline: str
) -> None:
    before = leftovers()
    repo = make_repo(tmp_path, pipeline.format(image=busybox_image))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit",
            "run-pipeline",
            "--trigger",
            "default",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while seen.count("sleeping") < 2 and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    assert seen.count("sleeping") >= 2, seen
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, seen + out
    assert leftovers() == before
    assert not list(tmp_path.glob("pipekit-run-*"))  # the temporary run folder is gone
    mounts = Path("/proc/mounts").read_text()
    assert str(tmp_path) not in mounts  # the cache's overlay mount was undone


def derived_image(base: str, name: str, cmd: str) -> str:
    """A local image FROM ``base`` whose command is ``sh -c CMD`` (a service's or a pipe's)."""

    def buildah(*args: str) -> str:
        return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()

    container = buildah("from", "--pull=never", base)
    try:
        buildah("config", "--cmd", json.dumps(["/bin/sh", "-c", cmd]), container)
        buildah("commit", "-q", container, name)
    finally:
        buildah("rm", container)
    return name


@pytest.fixture(scope="module")
def service_and_pipe(busybox_image: str) -> Iterator[tuple[str, str]]:
    tag = busybox_image.rsplit(":", 1)[1]
    service = derived_image(
        busybox_image,
        f"localhost/pipekit-test-web:{tag}",
        'mkdir -p /www && echo "hello from $GREETING" > /www/index.html && '
        'exec httpd -f -p "127.0.0.1:$PORT" -h /www',
    )
    pipe = derived_image(
        busybox_image,
        f"localhost/pipekit-test-pipe:{tag}",
        'echo "pipe $MESSAGE with ${FILES_COUNT} files: $FILES_0 $FILES_1"; ls "$BITBUCKET_CLONE_DIR"',
    )
    yield service, pipe
    subprocess.run(["buildah", "rmi", service, pipe], capture_output=True)


def test_services_pipes_and_oidc(
    tmp_path: Path, busybox_image: str, service_and_pipe: tuple[str, str]
) -> None:
    before = leftovers()
    service, pipe = service_and_pipe
    import socket

    with socket.socket() as probe:  # a free port for the service (steps and services share this network)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = make_repo(
        tmp_path,
        f"""
image: {busybox_image}
definitions:
  services:
    web:
      image: {service}
      variables:
        PORT: "{port}"
        GREETING: $WHO
    missing:
      image: registry.example.com/not-here:1
pipelines:
  default:
    - step:
        name: Service
        services: [web]
        oidc: true
        script:
          - for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://127.0.0.1:{port}/ && break; sleep 0.3; done
          - echo "token $BITBUCKET_STEP_OIDC_TOKEN"
    - step:
        name: Pipe
        script:
          - echo before > marker.txt
          - pipe: atlassian/demo-pipe:1.0.0
            variables:
              MESSAGE: "for $WHO"
              FILES: [a.txt, b.txt]
          - echo after
    - step:
        name: No service
        services: [missing]
        script: [echo never]
""",
    )
    variables = tmp_path / "vars.env"
    variables.write_text("WHO=the-team\n")
    result = pipeline_run(
        repo,
        tmp_path,
        trigger="default",
        variables=[variables],
        workdir=tmp_path / "work",
        image_map=[f"atlassian/demo-pipe:1.0.0={pipe}"],
    )
    assert statuses(result) == {"Service": "passed", "Pipe": "passed", "No service": "failed"}
    assert "hello from the-team" in log_of(result, "Service")
    assert "token ***" in log_of(result, "Service")  # a JWT, masked like any secured value
    pipe_log = log_of(result, "Pipe")
    assert "pipe for the-team with 2 files: a.txt b.txt" in pipe_log and "marker.txt" in pipe_log
    assert "after" in pipe_log
    assert "service 'missing' could not be provided" in (result.steps[2].reason or "")
    unmapped = pipeline_run(repo, tmp_path, trigger="default", variables=[variables], until="Pipe")
    assert "pipes are not run locally" in (unmapped.steps[1].reason or "")
    assert leftovers() == before


def test_fail_fast_stops_the_rest_of_a_parallel_group(tmp_path: Path, busybox_image: str) -> None:
    repo = make_repo(
        tmp_path,
        f"""
image: {busybox_image}
pipelines:
  default:
    - parallel:
        fail-fast: true
        steps:
          - step: {{name: Fails, script: [sleep 1, exit 4]}}
          - step: {{name: Slow, script: [sleep 60]}}
    - step: {{name: After, script: [echo never]}}
""",
    )
    began = time.monotonic()
    result = pipeline_run(repo, tmp_path, trigger="default")
    assert time.monotonic() - began < 30
    assert statuses(result) == {"Fails": "failed", "Slow": "stopped", "After": "not-run"}
    assert "fail-fast" in (result.steps[1].reason or "")


def test_custom_pipeline_variables_and_keep(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        """
pipelines:
  custom:
    release:
      - variables:
          - name: LEVEL
            default: patch
            allowed-values: [patch, minor]
          - name: NOTE
      - step:
          name: Release
          clone:
            enabled: false
          script: [echo "level=$LEVEL note=$NOTE", test ! -e .git]
""",
    )
    missing = run_pipekit(
        "run-pipeline", "--trigger", "custom:release", "--cache-dir", str(tmp_path / "c"), cwd=repo
    )
    assert missing.returncode == 2 and "needs variable NOTE" in missing.stderr
    wrong = run_pipekit(
        "run-pipeline",
        "--trigger",
        "custom:release",
        "--var",
        "LEVEL=major",
        "--var",
        "NOTE=x",
        "--cache-dir",
        str(tmp_path / "c"),
        cwd=repo,
    )
    assert wrong.returncode == 2 and "not one of the allowed values patch, minor" in wrong.stderr
    result = pipeline_run(repo, tmp_path, trigger="custom:release", var=["NOTE=first release"], keep=True)
    assert result.status == "passed" and "level=patch note=first release" in log_of(result, "Release")
    assert result.workdir and (Path(result.workdir) / "steps" / "01-release" / "clone").is_dir()
    shutil.rmtree(result.workdir)  # --keep named a temporary folder and kept it: this test's to remove


def test_an_image_whose_user_is_not_root_owns_its_clone_caches_and_docker(
    tmp_path: Path, busybox_image: str
) -> None:
    def buildah(*args: str) -> str:
        return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()

    image = busybox_image.replace("busybox:", "busybox-user:")
    container = buildah("from", "--pull=never", busybox_image)
    try:
        buildah("config", "--user", "1000", "--env", "HOME=/home/app", container)
        buildah("commit", "-q", container, image)
    finally:
        buildah("rm", container)
    try:
        repo = make_repo(
            tmp_path,
            f"""
image: {image}
definitions:
  caches:
    deps: ~/.deps
pipelines:
  default:
    - step:
        name: As 1000
        caches: [deps]
        services: [docker]
        script: [id -u, echo built > out.txt, mkdir -p ~/.deps, echo dep >> ~/.deps/list, cat ~/.deps/list,
                 docker images -q]
        artifacts: [out.txt]
""",
        )
        for _ in range(2):
            result = pipeline_run(repo, tmp_path, trigger="default", workdir=tmp_path / "work")
            assert result.status == "passed", log_of(result, "As 1000")
        log = log_of(result, "As 1000")
        assert "1000\n" in log and "dep\ndep\n" in log  # the cache the first run saved, restored and writable
        assert result.steps[0].artifacts == ["out.txt"]
    finally:
        subprocess.run(["buildah", "rmi", image], capture_output=True)


def test_a_pull_request_runs_its_source_merged_with_its_destination(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        """
clone:
  depth: 1
pipelines:
  pull-requests:
    'feature/*':
      - step:
          name: Merged
          condition:
            changesets:
              includePaths: [src/**]
          script:
            - test "$BITBUCKET_BRANCH" = feature/x && test "$BITBUCKET_PR_DESTINATION_BRANCH" = main
            - test -f from-main.txt && test -f src/feature.txt
""",
    )
    git("checkout", "-q", "-b", "feature/x", cwd=repo)
    (repo / "src").mkdir()
    (repo / "src" / "feature.txt").write_text("f\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "feature", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    (repo / "from-main.txt").write_text("m\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "main moved on", cwd=repo)
    git("checkout", "-q", "feature/x", cwd=repo)
    result = pipeline_run(repo, tmp_path, trigger="pr:feature/x:main")
    assert statuses(result) == {"Merged": "passed"}  # the condition saw src/ changed against main
