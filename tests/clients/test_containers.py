"""Container tools: buildah for real; docker and podman at the level of the arguments they run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipekit.clients.containers import (
    Buildah,
    ContainerToolError,
    Docker,
    ImageBuildFailed,
    ImageNotFound,
    Podman,
    get_tool,
)
from pipekit.core.errors import BadInput, ExitCode

needs_buildah = pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah not installed")


# -- argv level -----------------------------------------------------------------
def test_docker_build_argv_is_exact(tmp_path: Path) -> None:
    argv = Docker().build_argv(
        context=tmp_path,
        dockerfile=tmp_path / "Dockerfile.app",
        tags=["svc:abc1234", "svc:42"],
        labels={"org.opencontainers.image.revision": "abc", "note": "a b=c"},
        build_args={"JAR": "app.jar"},
        iidfile=tmp_path / "iid",
    )
    assert argv == [
        "docker",
        "build",
        "--file",
        str(tmp_path / "Dockerfile.app"),
        "--tag",
        "svc:abc1234",
        "--tag",
        "svc:42",
        "--label",
        "org.opencontainers.image.revision=abc",
        "--label",
        "note=a b=c",
        "--build-arg",
        "JAR=app.jar",
        "--iidfile",
        str(tmp_path / "iid"),
        str(tmp_path),
    ]


def test_buildah_and_podman_argv(tmp_path: Path) -> None:
    b = Buildah().build_argv(context=tmp_path, dockerfile=None, tags=["x:1"], labels={}, build_args={})
    assert b == ["buildah", "bud", "--tag", "x:1", str(tmp_path)]
    p = Podman().build_argv(context=tmp_path, dockerfile=None, tags=["x:1"], labels={}, build_args={})
    assert p[:2] == ["podman", "build"]
    push = Buildah().push_argv("x:1", "127.0.0.1:5000/x:1", tls_verify=False, digestfile=tmp_path / "d")
    assert push == [
        "buildah",
        "push",
        "--tls-verify=false",
        "--digestfile",
        str(tmp_path / "d"),
        "x:1",
        "docker://127.0.0.1:5000/x:1",
    ]
    assert Buildah().push_argv("x:1", "oci-archive:/tmp/x.tar")[-1] == "oci-archive:/tmp/x.tar"
    assert Docker().push_argv("x:1", "reg.example/x:1") == ["docker", "push", "reg.example/x:1"]


def test_login_argv_never_holds_the_password() -> None:
    for tool in (Docker(), Buildah(), Podman()):
        argv = tool.login_argv("reg.example", "AWS", tls_verify=False)
        assert "--password-stdin" in argv and argv[-1] == "reg.example"
        assert not any(a.startswith("--password=") or a == "-p" for a in argv)
    assert "--tls-verify=false" not in Docker().login_argv("r", "u", tls_verify=False)


def test_get_tool_names() -> None:
    assert isinstance(get_tool(), Docker)
    assert isinstance(get_tool("BUILDAH"), Buildah)
    assert isinstance(get_tool("podman"), Podman)
    with pytest.raises(BadInput, match="unknown container tool 'kaniko'.*docker, buildah, podman"):
        get_tool("kaniko")


def test_missing_tool_is_bad_input_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BadInput) as info:
        get_tool("docker").build(context=tmp_path, dockerfile=None, tags=["a:b"], labels={}, build_args={})
    assert info.value.exit_code == ExitCode.BAD_INPUT
    assert "'docker' not found on PATH" in str(info.value) and "services: [docker]" in str(info.value)


# -- a docker CLI stand-in that records what it was given ---------------------------
@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_fake_docker(tmp_path, monkeypatch)


def make_fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` on PATH that logs argv + stdin as JSON lines and answers like the real client."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.jsonl"
    script = bindir / "docker"
    script.write_text(f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
data = sys.stdin.read() if "--password-stdin" in args else ""
with open({str(log)!r}, "a") as fh:
    fh.write(json.dumps({{"argv": args, "stdin": data}}) + "\\n")
if args[:1] == ["build"]:
    iid = args[args.index("--iidfile") + 1]
    open(iid, "w").write("sha256:" + "ab" * 32)
    print("Step 1/2 : FROM scratch")
elif args[:2] == ["image", "inspect"]:
    if args[-1].startswith("missing"):
        sys.stderr.write("Error response from daemon: No such image: " + args[-1] + "\\n"); sys.exit(1)
    print(json.dumps({{"Id": "sha256:" + "ab" * 32, "RepoTags": ["svc:1", "svc:2"],
                      "RepoDigests": [], "Config": {{"Labels": {{"a": "b"}}}}}}))
elif args[:1] == ["push"]:
    print("1: digest: sha256:" + "cd" * 32 + " size: 528")
elif args[:1] == ["login"] and data.strip() != "s3cret-pass":
    sys.stderr.write("Error response from daemon: login attempt failed with status: 401 Unauthorized\\n")
    sys.exit(1)
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def _calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_docker_path_through_the_cli(fake_docker: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    docker = get_tool("docker", output=lines.append)
    image_id = docker.build(
        context=tmp_path, dockerfile=None, tags=["svc:1"], labels={"a": "b"}, build_args={}
    )
    assert image_id == "sha256:" + "ab" * 32
    assert lines == ["Step 1/2 : FROM scratch"]
    info = docker.inspect("svc:1")
    assert info["labels"] == {"a": "b"} and info["tags"] == ["1", "2"] and info["id"] == image_id
    assert docker.exists("svc:1") and not docker.exists("missing:1")
    digest = docker.push("svc:1", "reg.example/svc:1")
    assert digest == "sha256:" + "cd" * 32
    docker.login("reg.example", "AWS", "s3cret-pass")
    calls = _calls(fake_docker)
    assert ["tag", "svc:1", "reg.example/svc:1"] in [c["argv"] for c in calls]
    assert ["push", "reg.example/svc:1"] in [c["argv"] for c in calls]
    login = [c for c in calls if c["argv"][0] == "login"]
    assert login == [
        {"argv": ["login", "--username", "AWS", "--password-stdin", "reg.example"], "stdin": "s3cret-pass"}
    ]
    assert all("s3cret-pass" not in " ".join(c["argv"]) for c in calls)  # type: ignore[arg-type]


def test_failure_is_one_masked_line_with_the_last_stderr_line(
    fake_docker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipekit.core import masking

    monkeypatch.setenv("REG_PASSWORD", "wrong-password-123")
    masking.load_from_env()
    with pytest.raises(ContainerToolError) as info:
        get_tool("docker").login("reg.example", "AWS", "wrong-password-123")
    err = info.value
    assert err.exit_code == ExitCode.EXTERNAL and "\n" not in str(err)
    assert str(err).startswith(
        "docker login failed (exit 1): Error response from daemon: login attempt failed"
    )
    assert "wrong-password-123" not in str(err)


# -- buildah for real ---------------------------------------------------------------
@pytest.fixture
def scratch_context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.txt").write_text("hello ✓\n", encoding="utf-8")
    (ctx / "Containerfile").write_text(
        "FROM scratch\nARG GREETING\nLABEL greeting=$GREETING\nCOPY app.txt /app.txt\n"
    )
    return ctx


@pytest.fixture
def image_name() -> Iterator[str]:
    name = f"localhost/pipekit-test-{uuid.uuid4().hex[:8]}"
    yield name
    listed = subprocess.run(["buildah", "images", "--json", "--no-trunc"], capture_output=True, text=True)
    refs = [
        n
        for item in json.loads(listed.stdout or "[]")
        for n in item.get("names") or []
        if n.startswith(name + ":")
    ]
    if refs:
        subprocess.run(["buildah", "rmi", *refs], capture_output=True, check=False)


@pytest.mark.slow
@needs_buildah
def test_buildah_build_inspect_tag_exists(scratch_context: Path, image_name: str) -> None:
    tool = get_tool("buildah")
    image_id = tool.build(
        context=scratch_context,
        dockerfile=scratch_context / "Containerfile",
        tags=[f"{image_name}:one", f"{image_name}:two"],
        labels={"org.opencontainers.image.title": "svc ✓"},
        build_args={"GREETING": "hi there"},
    )
    assert image_id.startswith("sha256:") and len(image_id) == 71
    info = tool.inspect(f"{image_name}:one")
    assert info["id"] == image_id
    assert info["labels"]["org.opencontainers.image.title"] == "svc ✓"
    assert info["labels"]["greeting"] == "hi there"
    assert sorted(info["tags"]) == ["one", "two"]
    tool.tag(f"{image_name}:one", f"{image_name}:three")
    assert tool.exists(f"{image_name}:three")
    assert not tool.exists(f"{image_name}:four")
    with pytest.raises(ImageNotFound, match=f"{image_name}:four"):
        tool.inspect(f"{image_name}:four")


@pytest.mark.slow
@needs_buildah
def test_buildah_failed_build_exits_1_with_last_line(scratch_context: Path, image_name: str) -> None:
    (scratch_context / "Containerfile").write_text("FROM scratch\nCOPY nowhere.txt /x\n")
    with pytest.raises(ImageBuildFailed) as info:
        get_tool("buildah").build(
            context=scratch_context,
            dockerfile=scratch_context / "Containerfile",
            tags=[f"{image_name}:x"],
            labels={},
            build_args={},
        )
    assert info.value.exit_code == ExitCode.FAILED
    assert "nowhere.txt" in str(info.value) and "\n" not in str(info.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@needs_buildah
@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")
def test_buildah_push_returns_the_registry_digest(
    scratch_context: Path, image_name: str, tmp_path: Path
) -> None:
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        tool = get_tool("buildah")
        tool.build(
            context=scratch_context,
            dockerfile=scratch_context / "Containerfile",
            tags=[f"{image_name}:1"],
            labels={},
            build_args={},
        )
        digest = tool.push(f"{image_name}:1", f"127.0.0.1:{port}/svc:1", tls_verify=False)
        assert digest and digest.startswith("sha256:")
        import urllib.request

        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v2/svc/manifests/1",
            method="HEAD",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
            assert resp.headers["Docker-Content-Digest"] == digest
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bare_build_arg_is_read_from_the_environment(tmp_path: Path) -> None:
    argv = Buildah().build_argv(
        context=tmp_path, dockerfile=None, tags=["x:1"], labels={}, build_args={"NPM_TOKEN": None, "A": "1"}
    )
    assert argv[argv.index("--build-arg") + 1] == "NPM_TOKEN" and "A=1" in argv


@pytest.mark.slow
@needs_buildah
def test_buildah_reads_a_bare_build_arg_from_its_environment(
    scratch_context: Path, image_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREETING", "from the environment")
    tool = get_tool("buildah")
    tool.build(
        context=scratch_context,
        dockerfile=scratch_context / "Containerfile",
        tags=[f"{image_name}:env"],
        labels={},
        build_args={"GREETING": None},
    )
    assert tool.inspect(f"{image_name}:env")["labels"]["greeting"] == "from the environment"
