"""Shared fixtures. Step-specific fixtures live in the step's own test module or tests/fixtures/."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipekit.core import masking

if TYPE_CHECKING:
    from pipekit.testing.argocd import ArgoCDStandIn
    from pipekit.testing.jira import JiraStandIn
    from pipekit.testing.kubernetes import KubernetesStandIn
    from pipekit.testing.moto import MotoServer
    from pipekit.testing.registry import LocalRegistry
    from pipekit.testing.sink import WebhookSink

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PIPEKIT_SHARED", REPO_ROOT.parent / "shared"))
SCHEMAS = SHARED / "schemas"

BITBUCKET_VARS = [
    "BITBUCKET_COMMIT",
    "BITBUCKET_BRANCH",
    "BITBUCKET_TAG",
    "BITBUCKET_BUILD_NUMBER",
    "BITBUCKET_REPO_SLUG",
    "BITBUCKET_WORKSPACE",
    "BITBUCKET_REPO_FULL_NAME",
    "BITBUCKET_PR_ID",
    "BITBUCKET_PR_DESTINATION_BRANCH",
    "BITBUCKET_DEPLOYMENT_ENVIRONMENT",
    "BITBUCKET_PIPELINE_UUID",
    "BITBUCKET_STEP_UUID",
    "BITBUCKET_GIT_HTTP_ORIGIN",
    "BITBUCKET_EXIT_CODE",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's Bitbucket, pipekit or webhook variables; run records go to tmp."""
    for name in list(os.environ):
        if name.startswith(("BITBUCKET_", "PIPEKIT_", "ARGOCD_")) or name.endswith("_WEBHOOK_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPEKIT_RUN_RECORD", str(tmp_path / ".pipekit" / "run.json"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    masking.reset()
    yield
    masking.reset()


def load_schema(name: str) -> dict:
    import json

    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def self_signed_cert(folder: Path, *dns_names: str) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (and ``dns_names``) made by openssl in ``folder``: (cert, key) paths."""
    names = ",".join(["IP:127.0.0.1", *(f"DNS:{n}" for n in dns_names)])
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", f"subjectAltName={names}"],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def git(*args: str, cwd: Path) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit."""
    repo = tmp_path / "service"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("config", "user.email", "dev@example.com", cwd=repo)
    git("config", "user.name", "Dev Eloper", cwd=repo)
    (repo / "README.md").write_text("service\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "Add the service", cwd=repo)
    return repo


def run_pipekit(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipekit ARGS` in a subprocess, as a pipeline would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "pipekit", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- stand-ins: each started once per test session, reset for every test that uses it ------------
@pytest.fixture(scope="session")
def _argocd_session() -> Iterator[ArgoCDStandIn]:
    from pipekit.testing.argocd import ArgoCDStandIn

    with ArgoCDStandIn() as standin:
        yield standin


@pytest.fixture
def argocd_standin(_argocd_session: ArgoCDStandIn) -> ArgoCDStandIn:
    """The session's Argo CD stand-in, reset (``.reset(users=...)`` again for other settings)."""
    _argocd_session.reset()
    return _argocd_session


@pytest.fixture(scope="session")
def _kube_session() -> Iterator[KubernetesStandIn]:
    from pipekit.testing.kubernetes import KubernetesStandIn

    with KubernetesStandIn() as standin:
        yield standin


@pytest.fixture
def kube_standin(_kube_session: KubernetesStandIn) -> KubernetesStandIn:
    _kube_session.reset()
    return _kube_session


@pytest.fixture(scope="session")
def _jira_session() -> Iterator[JiraStandIn]:
    from pipekit.testing.jira import JiraStandIn

    with JiraStandIn() as standin:
        yield standin


@pytest.fixture
def jira_standin(_jira_session: JiraStandIn) -> JiraStandIn:
    """The session's Jira stand-in, reset (``.reset(email=..., token=...)`` for credentials)."""
    _jira_session.reset()
    return _jira_session


@pytest.fixture(scope="session")
def _sink_session() -> Iterator[WebhookSink]:
    from pipekit.testing.sink import WebhookSink

    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def webhook_sink(_sink_session: WebhookSink) -> WebhookSink:
    _sink_session.reset()
    return _sink_session


@pytest.fixture(scope="session")
def _moto_session() -> Iterator[MotoServer]:
    from pipekit.testing.moto import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture
def moto_server(_moto_session: MotoServer) -> MotoServer:
    _moto_session.reset()
    return _moto_session


@pytest.fixture(scope="session")
def _registry_session() -> Iterator[LocalRegistry]:
    from pipekit.testing.registry import LocalRegistry

    with LocalRegistry() as registry:
        yield registry


@pytest.fixture
def local_registry(_registry_session: LocalRegistry) -> LocalRegistry:
    _registry_session.reset()
    return _registry_session
