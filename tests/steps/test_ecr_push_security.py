"""The ECR password never shows: not in output (debug on), logs, the run record, or any process's arguments.

Every container tool is wrapped by a PATH shim that logs its argv to a file and then execs the
real tool; the test greps that log, stdout, stderr and the run record for the password and the
base64 token.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipekit.testing.moto import MotoServer
from pipekit.testing.registry import LocalRegistry
from tests.steps.test_ecr_push import PASSWORD, base_env, build_image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("buildah") and shutil.which("docker-registry")),
        reason="buildah and docker-registry required",
    ),
]

TOOLS = ("buildah", "podman", "docker", "skopeo")


def make_shims(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        if not real:
            continue
        shim = bin_dir / tool
        shim.write_text(
            "#!/usr/bin/env python3\n"
            "import json, os, sys\n"
            f"with open({str(log)!r}, 'a') as fh:\n"
            "    fh.write(json.dumps(sys.argv) + '\\n')\n"
            f"os.execv({real!r}, [{real!r}] + sys.argv[1:])\n"
        )
        shim.chmod(0o755)


def test_password_never_in_output_logs_record_or_argv(tmp_path: Path) -> None:
    log = tmp_path / "argv.log"
    make_shims(tmp_path / "shims", log)
    image = build_image(tmp_path, f"pipekit-ecr-sec-{os.getpid()}", "secret test\n")
    try:
        with MotoServer() as moto, LocalRegistry() as reg:
            env = base_env(tmp_path, moto)
            env["PATH"] = f"{tmp_path / 'shims'}{os.pathsep}{env['PATH']}"
            env["PIPEKIT_DEBUG"] = "1"
            moto.client("ecr").create_repository(repositoryName="sec")
            outputs = []
            for extra in (["--json"], ["--tags", "b"], []):  # push with login, reuse, skip
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pipekit",
                        "ecr-push",
                        "--image",
                        image,
                        "--tags",
                        "a",
                        "--repository",
                        "sec",
                        "--registry-override",
                        reg.host,
                        "--container-tool",
                        "buildah",
                        "--debug",
                        *extra,
                    ],
                    env=env,
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                assert done.returncode == 0, done.stderr
                outputs += [done.stdout, done.stderr]
            argv_lines = log.read_text().splitlines()
    finally:
        subprocess.run(["buildah", "rmi", image], capture_output=True)
    calls = [json.loads(line) for line in argv_lines]
    # the test means something: the tool did log in (password on stdin) and push through the shim
    logins = [c for c in calls if c[1:2] == ["login"] and "--get-login" not in c]
    assert logins and all("--password-stdin" in c for c in logins)
    assert any(c[1:2] == ["push"] for c in calls)
    token = base64.b64encode(f"AWS:{PASSWORD}".encode()).decode()
    record = (tmp_path / ".pipekit" / "run.json").read_text()
    everything = "\n".join([*outputs, "\n".join(argv_lines), record])
    assert PASSWORD not in everything and token not in everything
    assert "DEBUG" in everything  # debug output was on and checked


FAKE_DOCKER = r'''#!/usr/bin/env python3
"""A docker CLI stand-in (no Docker engine here): logs argv and stdin, answers from buildah's store."""
import json, os, subprocess, sys

args = sys.argv[1:]
record = {"argv": args}
if args[:1] == ["login"]:
    record["stdin"] = sys.stdin.read()
with open(os.environ["FAKE_DOCKER_LOG"], "a") as fh:
    fh.write(json.dumps(record) + "\n")
image = os.environ["FAKE_DOCKER_IMAGE"]
if args[:2] == ["image", "inspect"]:
    data = json.loads(subprocess.run(["buildah", "inspect", "--type", "image", image], capture_output=True,
                                     text=True, check=True).stdout)
    print(json.dumps({"Id": "sha256:" + data["FromImageID"], "RepoTags": [image], "Config": {"Labels": {}}}))
elif args[:1] == ["push"]:
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"containers-storage:{image}",
                    f"docker://{args[1]}"], check=True)
elif args[:1] not in (["login"], ["tag"]):
    sys.exit(f"fake docker: unexpected {args}")
'''


@pytest.mark.skipif(not shutil.which("skopeo"), reason="skopeo required")
def test_docker_path_gets_the_password_on_stdin_only(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "docker.log"
    image = build_image(tmp_path, f"pipekit-ecr-docker-{os.getpid()}", "docker path\n")
    try:
        with MotoServer() as moto, LocalRegistry() as reg:
            env = base_env(tmp_path, moto)
            env.update(
                PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
                FAKE_DOCKER_LOG=str(log),
                FAKE_DOCKER_IMAGE=image,
                DOCKER_CONFIG=str(tmp_path / "docker-config"),
            )
            moto.client("ecr").create_repository(repositoryName="via-docker")
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pipekit",
                    "ecr-push",
                    "--image",
                    image,
                    "--tags",
                    "1.0",
                    "--repository",
                    "via-docker",
                    "--registry-override",
                    reg.host,
                    "--debug",
                ],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            pushed = reg.manifest_digest("via-docker", "1.0")
    finally:
        subprocess.run(["buildah", "rmi", image], capture_output=True)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["argv"][0] for c in calls] == ["image", "login", "tag", "push"]
    login = calls[1]
    assert login["argv"] == ["login", "--username", "AWS", "--password-stdin", reg.host]
    assert login["stdin"] == PASSWORD
    assert calls[3]["argv"] == ["push", f"{reg.host}/via-docker:1.0"]
    assert (
        pushed
        and json.loads((tmp_path / ".pipekit" / "run.json").read_text())["steps"]["ecr_push"]["outputs"][
            "digest"
        ]
        == pushed
    )
    assert PASSWORD not in done.stdout + done.stderr + json.dumps([c["argv"] for c in calls])
