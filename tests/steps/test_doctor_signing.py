"""pipekit doctor's signing checks: the signing key and the trusted public keys are
configured and readable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipekit.signing import cosign_keys

PIPEKIT = [sys.executable, "-m", "pipekit"]


def doctor(tmp_path: Path, config: dict, env: dict[str, str]) -> tuple[int, dict]:
    (tmp_path / "pipekit.yaml").write_text(yaml.safe_dump(config))
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEKIT_", "COSIGN_"))}
    full.update(env)
    proc = subprocess.run(
        [*PIPEKIT, "doctor", "--check", "signing", "--json"],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(proc.stdout)
    return proc.returncode, data.get("result", data)  # a failed run wraps the result beside the error


@pytest.mark.slow
def test_readable_keys_pass_and_unreadable_ones_fail_naming_the_reference(tmp_path: Path) -> None:
    private, public = cosign_keys.generate(b"pw", n=1 << 12)
    (tmp_path / "cosign.key").write_text(private)
    (tmp_path / "cosign.pub").write_text(public)
    config = {
        "signing": {"key": "cosign.key", "public_keys": ["cosign.pub", public]},
        "environments": {"dev": {}, "qa": {"promotion": "gated", "gates": ["signature"]}},
    }
    code, out = doctor(tmp_path, config, {"COSIGN_PASSWORD": "pw"})
    assert code == 0, out
    checks = {c["name"]: c for c in out["checks"]}
    assert (
        checks["signing:key"]["status"] == "ok"
        and "cosign.key is readable" in checks["signing:key"]["summary"]
    )
    assert checks["signing:public-keys"]["status"] == "ok"
    assert "2 public key(s) readable: cosign.pub, (PEM text)" in checks["signing:public-keys"]["summary"]

    code, out = doctor(tmp_path, config, {"COSIGN_PASSWORD": "hunter2"})
    assert code == 1
    failed = {c["name"]: c for c in out["checks"]}["signing:key"]
    assert failed["status"] == "fail" and "cosign.key: wrong password" in failed["summary"]
    assert private.splitlines()[1] not in json.dumps(out)

    config["signing"] = {"key": "env://PIPEKIT_SIGNING_KEY_PEM"}
    code, out = doctor(tmp_path, config, {"COSIGN_PASSWORD": "pw"})
    checks = {c["name"]: c for c in out["checks"]}
    assert code == 1
    assert "variable PIPEKIT_SIGNING_KEY_PEM is not set" in checks["signing:key"]["summary"]
    assert (
        "gate on signature but signing.public_keys lists no key" in checks["signing:public-keys"]["summary"]
    )

    config["signing"] = {"public_keys": ["missing.pub"]}
    code, out = doctor(tmp_path, config, {})
    assert code == 1
    assert (
        "missing.pub: cannot read it"
        in {c["name"]: c for c in out["checks"]}["signing:public-keys"]["summary"]
    )
