"""The base image definition: lint, the manifest and the Dockerfile agree, downloads are verified, tags."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import tomllib

from pipekit.baseimage import buildargs, manifest
from pipekit.core.errors import BadInput
from tests.conftest import REPO_ROOT

DOCKER = REPO_ROOT / "docker"
DOCKERFILE = (DOCKER / "Dockerfile").read_text()
BUILD = ["bash", str(REPO_ROOT / "scripts/build-image.sh")]


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_hadolint_passes_and_every_ignore_is_explained():
    out = subprocess.run([_bin("hadolint"), str(DOCKER / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = DOCKERFILE.splitlines()
    for n, line in enumerate(lines):
        if "hadolint ignore=" in line:
            for rule in line.split("=", 1)[1].split(","):
                explained = "\n".join(lines[max(0, n - 6) : n])
                assert rule.strip() in explained, (
                    f"hadolint ignore {rule} at line {n + 1} has no explanation above it"
                )


def test_manifest_loads_and_every_download_is_verifiable_on_every_arch():
    m = manifest.load(DOCKER / "tools.yaml")
    assert m.base and re.fullmatch(r"sha256:[0-9a-f]{64}", m.base.digest)
    downloads = [t for t in m.tools.values() if t.kind == "download"]
    assert {t.name for t in downloads} >= {"kubectl", "kustomize", "argocd", "aws", "yq", "maven"}
    for tool in downloads:
        assert tool.source_of_checksum, f"{tool.name}: say where its checksum came from"
        for arch in manifest.ARCHES:
            assert tool.signature or re.fullmatch(r"sha(256|512):[0-9a-f]+", tool.checksum_for(arch)), (
                tool.name,
                arch,
            )
            assert "{" not in tool.url_for(arch), tool.url_for(arch)
    aws = m.tools["aws"]
    assert aws.signature and aws.signature.fingerprint == "FB5DB77FD5C118B80511ADA8A6310ACC4672475C"
    assert (REPO_ROOT / aws.signature.key).is_file()


def test_the_pinned_aws_key_has_the_pinned_fingerprint(tmp_path: Path):
    key = REPO_ROOT / manifest.load(DOCKER / "tools.yaml").tools["aws"].signature.key  # type: ignore[union-attr]
    out = subprocess.run(
        ["gpg", "--batch", "--show-keys", "--with-colons", str(key)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GNUPGHOME": str(tmp_path)},
    )
    fprs = [line.split(":")[9] for line in out.stdout.splitlines() if line.startswith("fpr:")]
    assert fprs[0] == "FB5DB77FD5C118B80511ADA8A6310ACC4672475C"


def test_dockerfile_declares_exactly_the_build_args_the_manifest_generates():
    m = manifest.load(DOCKER / "tools.yaml")
    declared = set(re.findall(r"^ARG ([A-Z0-9_]+)", DOCKERFILE, re.M)) - {"TARGETARCH"}
    expected = buildargs.expected_arg_names(m)
    assert declared - expected == set(), f"ARGs the manifest does not generate: {sorted(declared - expected)}"
    assert expected - declared == set(), f"manifest args the Dockerfile lacks: {sorted(expected - declared)}"
    for tool in m.tools.values():
        if tool.kind == "download":
            assert re.search(rf"^RUN fetch-tool {re.escape(tool.name)} ", DOCKERFILE, re.M), tool.name


def test_a_download_without_a_checksum_for_an_arch_is_rejected():
    text = (DOCKER / "tools.yaml").read_text()
    broken = re.sub(r"(argocd:.*?sha256:\n\s+amd64: \w+\n)\s+arm64: \w+\n", r"\1", text, count=1, flags=re.S)
    assert broken != text
    with pytest.raises(BadInput, match=r"tools\.argocd: no checksum for arm64"):
        manifest.parse(broken, "docker/tools.yaml")


def test_every_apt_word_in_the_dockerfile_is_a_pinned_manifest_package():
    m = manifest.load(DOCKER / "tools.yaml")
    pinned = re.findall(r'"?([a-z0-9.+-]+)=\$\{([A-Z0-9_]+)\}', DOCKERFILE)
    assert pinned
    for package, arg in pinned:
        tool = next(
            (
                t
                for t in m.tools.values()
                if (t.package or t.name) == package or (t.local or {}).get("package") == package
            ),
            None,
        )
        assert tool is not None, f"{package} is installed but not in docker/tools.yaml"
        assert arg in buildargs.tool_args(tool), (package, arg)


def test_lock_covers_every_runtime_dependency_with_hashes():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    lock = (DOCKER / "requirements.lock").read_text()
    locked = {m.group(1).lower().replace("_", "-") for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", lock, re.M)}
    for dep in project["dependencies"]:
        name = re.split(r"[<>=!\[ ;]", dep, maxsplit=1)[0].lower().replace("_", "-")
        assert name in locked, f"{name} missing from docker/requirements.lock"
    entries = re.findall(r"^[A-Za-z0-9_.-]+==\S+((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", lock, re.M)
    assert len(entries) == len(locked), "every locked package needs --hash lines"


def test_local_plan_leaves_out_what_only_upstream_provides(tmp_path: Path):
    m = manifest.load(DOCKER / "tools.yaml")
    plan = buildargs.plan(
        m, "jdk17", "0.1.0", local_url="http://127.0.0.1:1", base_image="localhost/debian:x"
    )
    tools = plan.image["tools"]
    for name in ("argocd", "aws", "yq", "kustomize"):
        assert tools[name]["included"] is False and "left out of the local variant" in tools[name]["note"]
        assert plan.args[f"{buildargs.arg_prefix(name)}_URL_AMD64"] == ""
    assert tools["maven"]["kind"] == "debian" and "instead of upstream 3.9.9" in tools["maven"]["note"]
    assert tools["kubectl"]["checksum"]["amd64"] == plan.args["KUBECTL_SUM_AMD64"]
    assert plan.labels["io.pipekit.tool.argocd"].startswith("not in the image")
    upstream = buildargs.plan(m, "jdk21", "0.1.0")
    assert upstream.args["AWS_URL_ARM64"].endswith("awscli-exe-linux-aarch64-2.22.35.zip")
    assert upstream.args["OPENJDK_17_JDK_HEADLESS_VERSION"] == ""
    assert upstream.args["TEMURIN_21_SUM_AMD64"].startswith("sha256:e4446ff0")


# -- fetch-tool.sh: the verify step the Dockerfile runs, against a real local HTTP server ---------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "srv"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetch(name: str, dest: Path, **args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TARGETARCH": "amd64", **args}
    return subprocess.run(
        ["sh", str(DOCKER / "fetch-tool.sh"), name, str(dest)], capture_output=True, text=True, env=env
    )


@pytest.mark.slow
def test_fetch_verifies_then_installs(served: tuple[Path, str], tmp_path: Path):
    root, url = served
    (root / "yq_linux_amd64").write_bytes(b"#!/bin/sh\necho yq\n")
    good = hashlib.sha256((root / "yq_linux_amd64").read_bytes()).hexdigest()
    out = fetch(
        "yq",
        tmp_path / "bin",
        YQ_URL_AMD64=f"{url}/yq_linux_amd64",
        YQ_SUM_AMD64=f"sha256:{good}",
        YQ_FORMAT="binary",
    )
    assert out.returncode == 0, out.stderr
    assert os.access(tmp_path / "bin" / "yq", os.X_OK) and f"sha256:{good} verified" in out.stdout


@pytest.mark.slow
def test_tampered_download_fails_naming_file_and_both_sums(served: tuple[Path, str], tmp_path: Path):
    root, url = served
    original = b"the real kustomize"
    expected = hashlib.sha256(original).hexdigest()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"a tampered kustomize"
        info = tarfile.TarInfo("kustomize")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (root / "kustomize_v5.5.0_linux_amd64.tar.gz").write_bytes(buf.getvalue())
    actual = hashlib.sha256(buf.getvalue()).hexdigest()
    out = fetch(
        "kustomize",
        tmp_path / "bin",
        KUSTOMIZE_URL_AMD64=f"{url}/kustomize_v5.5.0_linux_amd64.tar.gz",
        KUSTOMIZE_SUM_AMD64=f"sha256:{expected}",
        KUSTOMIZE_FORMAT="tar.gz",
        KUSTOMIZE_MEMBER="kustomize",
    )
    assert out.returncode == 1
    assert "kustomize_v5.5.0_linux_amd64.tar.gz" in out.stderr
    assert f"expected sha256:{expected}" in out.stderr and f"actual sha256:{actual}" in out.stderr
    assert not (tmp_path / "bin" / "kustomize").exists()  # nothing unpacked


@pytest.mark.slow
def test_fetch_without_a_checksum_refuses_and_an_empty_url_leaves_the_tool_out(
    served: tuple[Path, str], tmp_path: Path
):
    root, url = served
    (root / "argocd-linux-amd64").write_bytes(b"x")
    out = fetch(
        "argocd", tmp_path / "bin", ARGOCD_URL_AMD64=f"{url}/argocd-linux-amd64", ARGOCD_FORMAT="binary"
    )
    assert out.returncode == 1 and "no checksum for argocd on amd64" in out.stderr
    left_out = fetch("argocd", tmp_path / "out", ARGOCD_URL_AMD64="")
    assert (
        left_out.returncode == 0 and "left out" in left_out.stdout and not any((tmp_path / "out").iterdir())
    )


# -- scripts/build-image.sh: commands, tags -------------------------------------------------------------


def dry_run(*args: str) -> list[str]:
    """The printed commands, each re-joined from its shell words (the script prints them quoted)."""
    import shlex

    out = subprocess.run(
        [*BUILD, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert out.returncode == 0, out.stderr
    return [" ".join(shlex.split(line)) for line in out.stdout.splitlines()]


def test_dry_run_prints_the_buildx_command_with_tags_args_and_labels():
    lines = dry_run("--tool", "docker", "--variant", "jdk21", "--registry", "reg.example/team", "--dry-run")
    build = next(line for line in lines if line.startswith("docker buildx build"))
    assert "--platform linux/amd64,linux/arm64" in build and build.endswith(" .") and "--push" not in build
    for tag in ("0.1.0-jdk21", "0.1-jdk21", "0-jdk21"):
        assert f"-t reg.example/team/pipekit-base:{tag}" in build
    assert "-t reg.example/team/pipekit-base:0.1 " not in build  # bare floating tags point at jdk17
    assert "ARGOCD_SUM_ARM64=sha256:4f9195f9" in build and "io.pipekit.tool.kubectl=" in build
    assert any(line.startswith(f"{sys.executable} -m pip wheel") for line in lines)


def test_print_is_an_alias_and_buildah_tags_every_tag():
    lines = dry_run("--tool", "buildah", "--print", "--registry", "reg.example/team")
    assert any(line.startswith("buildah bud --layers --format docker --platform") for line in lines)
    tagged = [line.split()[-1] for line in lines if line.startswith("buildah tag")]
    assert tagged == [f"reg.example/team/pipekit-base:{t}" for t in ("0.1-jdk17", "0-jdk17", "0.1", "0")]
    assert not [line for line in lines if "push" in line]


def test_unknown_tool_or_variant_is_usage_error():
    for args in (["--tool", "kaniko"], ["--variant", "jdk8"]):
        out = subprocess.run([*BUILD, *args, "--dry-run"], capture_output=True, text=True)
        assert out.returncode == 2 and args[1] in out.stderr


def test_image_json_written_for_the_build_context(tmp_path: Path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipekit.baseimage.buildargs",
            "--variant",
            "jdk17",
            "--pipekit-version",
            "0.1.0",
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
        cwd=REPO_ROOT,
    )
    image = json.loads((tmp_path / "context" / "image.json").read_text())
    assert image["variant"] == "jdk17" and image["tools"]["temurin-21"]["included"] is False
    assert manifest.load(tmp_path / "context" / "image.json").tools["kubectl"].version == "v1.32.5"


@pytest.mark.slow
def test_a_released_tag_is_never_moved_and_floating_tags_only_move_forward(tmp_path: Path):
    from pipekit.testing.registry import LocalRegistry

    with LocalRegistry() as reg:
        container = subprocess.run(
            ["buildah", "from", "scratch"], capture_output=True, text=True, check=True
        ).stdout.strip()
        try:
            subprocess.run(
                ["buildah", "commit", "-q", container, "localhost/tiny:1"], capture_output=True, check=True
            )
        finally:
            subprocess.run(["buildah", "rm", container], capture_output=True)
        registry = f"{reg.host}/team"

        def push_tag(tag: str) -> None:
            subprocess.run(
                [
                    "skopeo",
                    "copy",
                    "-q",
                    "--dest-tls-verify=false",
                    "containers-storage:localhost/tiny:1",
                    f"docker://{registry}/pipekit-base:{tag}",
                ],
                capture_output=True,
                check=True,
            )

        env = {**os.environ, "PYTHON": sys.executable, "PIPEKIT_REGISTRY_TLS_VERIFY": "false"}
        args = [*BUILD, "--tool", "buildah", "--registry", registry, "--push", "--dry-run"]
        push_tag("0.0.9-jdk17")
        older = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
        assert older.returncode == 0, older.stderr
        assert "buildah tag" in older.stdout  # 0.1.0 is newer than 0.0.9: floating tags move
        pushes = [
            line for line in older.stdout.splitlines() if line.startswith("buildah manifest push --all")
        ]
        assert len(pushes) == 5  # 0.1.0-jdk17, 0.1-jdk17, 0-jdk17, 0.1, 0
        push_tag("0.1.7-jdk17")
        newer = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
        assert newer.returncode == 0 and "buildah tag" not in newer.stdout
        assert "0.1.7-jdk17 is newer than 0.1.0" in newer.stderr
        push_tag("0.1.0-jdk17")
        released = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
        assert released.returncode == 1 and "already released" in released.stderr
        assert "buildah bud" not in released.stdout
        subprocess.run(["buildah", "rmi", "localhost/tiny:1"], capture_output=True)
    gone = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert gone.returncode == 3 and "cannot tell what is released" in gone.stderr


def test_the_scanners_the_generated_pipeline_calls_are_in_the_manifest():
    """Issue 21 item 2: trivy as a checksummed download, semgrep in its own virtualenv from a hash lock,
    at the version the tests run (tests/scanners.txt)."""
    m = manifest.load(DOCKER / "tools.yaml")
    trivy, semgrep = m.tools["trivy"], m.tools["semgrep"]
    assert trivy.kind == "download" and trivy.local is None  # left out of the local variant, said so
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", trivy.checksum_for(a)) for a in manifest.ARCHES)
    assert semgrep.kind == "venv" and semgrep.path == "/opt/semgrep"
    lock = (DOCKER / str(semgrep.lock)).read_text()
    assert f"semgrep=={semgrep.version} \\" in lock
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.M)
    assert pins and all(block.count("--hash=sha256:") for block in lock.split("==")[1:])
    scanners = (REPO_ROOT / "tests" / "scanners.txt").read_text()
    assert f"semgrep=={semgrep.version}" in scanners
    assert f"COPY docker/{semgrep.lock} /etc/pipekit/{semgrep.lock}" in DOCKERFILE
    assert (
        f"-m venv {semgrep.path}" in DOCKERFILE
        and "--require-hashes -r /etc/pipekit/semgrep.lock" in DOCKERFILE
    )
    local = buildargs.plan(m, "jdk17", "0.1.0", local_url="http://127.0.0.1:1")
    assert local.image["tools"]["trivy"]["included"] is False and local.image["tools"]["semgrep"].get(
        "included", True
    )


def test_the_image_runs_as_its_pipekit_user():
    """Issue 21 item 14: USER is the pipekit user, by number
    (Kubernetes verifies runAsNonRoot only on one)."""
    assert "useradd --create-home --uid 1000 --shell /bin/bash pipekit" in DOCKERFILE
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users == ["1000:1000"] and DOCKERFILE.rstrip().splitlines()[-1].startswith("CMD")
