"""Kubernetes failures are named, not reported as a timeout; stale pod readiness waits (issue 23,
items 11, 13, 14, 16).

The API servers here are real HTTP servers on 127.0.0.1 answering every call with one status, and the
Kubernetes stand-in; post-sync-test runs as a real process with a kubeconfig.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from pipekit.clients import kubeconfig
from pipekit.core.errors import BadInput
from pipekit.kube import rollout
from pipekit.testing.serving import canned
from tests.conftest import run_pipekit


def answering(status: int) -> AbstractContextManager[str]:
    return canned(lambda _h: (status, {"kind": "Status", "code": status, "message": f"canned {status}"}))


def write_kubeconfig(path: Path, server: str, user: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [{"name": "k", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "shop"}}],
            }
        )
    )
    return path


def post_sync(tmp_path: Path, kubeconfig_path: Path, *extra: str, timeout: str = "20") -> Any:
    return run_pipekit(
        "post-sync-test",
        "--wait-ready",
        "deployment/orders",
        "--ready-timeout",
        timeout,
        "--junit-dir",
        str(tmp_path / "junit"),
        *extra,
        "--",
        "true",
        env={"KUBECONFIG": str(kubeconfig_path)},
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("user", "named"),
    [
        ({"token": "abc123token\nsecond-line"}, "token of user 'u'"),
        ({"tokenFile": "token.bin"}, "token.bin"),
        ({"tokenFile": "/dev/zero"}, "/dev/zero"),
    ],
)
def test_a_bad_token_is_exit_2_naming_it(tmp_path: Path, user: dict[str, Any], named: str) -> None:
    (tmp_path / "token.bin").write_bytes(b"\xff\xfe\x00bad")
    with answering(200) as url:
        started = time.monotonic()
        proc = post_sync(tmp_path, write_kubeconfig(tmp_path / "kubeconfig", url, user))
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr and "no state seen" not in proc.stderr
    assert "abc123token" not in proc.stderr
    assert time.monotonic() - started < 15


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 404])
def test_an_api_failing_every_call_is_exit_3_naming_it(tmp_path: Path, status: int) -> None:
    with answering(status) as url:
        proc = post_sync(
            tmp_path,
            write_kubeconfig(tmp_path / "kubeconfig", url, {"token": "t0ken-value"}),
            "--debug",
            timeout="8",
        )
    assert proc.returncode == 3, proc.stderr
    assert "/apis/apps/v1/namespaces/shop/deployments" in proc.stderr and str(status) in proc.stderr
    assert "no state seen" not in proc.stderr
    assert f"GET {url}/apis/apps/v1/namespaces/shop/deployments" in proc.stderr  # --debug shows the requests


def test_a_token_file_is_read_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * (kubeconfig.MAX_SECRET_BYTES + 1))
    with pytest.raises(BadInput, match="more than"):
        kubeconfig.read_secret(big, "service-account token")
    with pytest.raises(BadInput, match="/dev/zero"):
        kubeconfig.read_secret(Path("/dev/zero"), "service-account token")


def test_a_deeply_nested_kubeconfig_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(BadInput, match="kubeconfig"):
        kubeconfig.from_kubeconfig({"KUBECONFIG": str(path)})


def _pod(
    generation: int | None, observed: int | None, condition_observed: int | None = None
) -> dict[str, Any]:
    ready: dict[str, Any] = {"type": "Ready", "status": "True"}
    if condition_observed is not None:
        ready["observedGeneration"] = condition_observed
    status: dict[str, Any] = {"phase": "Running", "conditions": [ready]}
    if observed is not None:
        status["observedGeneration"] = observed
    meta: dict[str, Any] = {"name": "web-0"}
    if generation is not None:
        meta["generation"] = generation
    return {"metadata": meta, "status": status}


def test_pod_readiness_older_than_the_pod_spec_is_stale() -> None:
    """Kubernetes 1.33+: a Ready condition observed at an older generation does not count
    (kubectl waits too)."""
    assert rollout.pod(_pod(None, None)).ready  # before 1.33: no generations, Ready counts
    assert rollout.pod(_pod(2, 2, 2)).ready
    stale = rollout.pod(_pod(3, 3, 2))  # the condition's own observedGeneration comes first
    assert not stale.ready and "generation 3" in stale.message
    assert not rollout.pod(_pod(3, 2)).ready  # else status.observedGeneration
    assert rollout.pod(_pod(3, 2, 3)).ready
