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
from tests.test_ecr_push import PASSWORD, base_env, build_image

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (shutil.which("buildah") and shutil.which("docker-registry")), reason="buildah and docker-registry required")]

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
            f"os.execv({real!r}, [{real!r}] + sys.argv[1:])\n")
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
                    [sys.executable, "-m", "pipekit", "ecr-push", "--image", image, "--tags", "a", "--repository",
                     "sec", "--registry-override", reg.host, "--container-tool", "buildah", "--debug", *extra],
                    env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
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
