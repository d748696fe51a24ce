"""The Argo CD stand-in: wire shapes (checked against Argo CD's swagger), faults, scenarios,
GitOps following."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from pipekit.testing.argocd import ArgoCDStandIn, scenario
from tests.conftest import REPO_ROOT, git, load_schema

E = "5f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
SWAGGER = load_schema("argocd-v3.5.1-swagger.json")


def check_shape(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """Every key must be a property of the swagger definition; types roughly match."""
    if "$ref" in schema:
        schema = SWAGGER["definitions"][schema["$ref"].split("/")[-1]]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        assert isinstance(value, dict), where
        props = schema.get("properties", {})
        for key, item in value.items():
            if props:
                assert key in props, f"{where}.{key} is not in the swagger definition"
                check_shape(item, props[key], f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            check_shape(item, schema.get("items", {}), f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: {value!r} should be a string"
        if schema.get("format") == "date-time":
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value), where
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), where  # int64 as a JSON number
    elif kind == "boolean":
        assert isinstance(value, bool), where


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


@pytest.fixture
def argo(argocd_standin: ArgoCDStandIn) -> ArgoCDStandIn:
    argocd_standin.reset(users={"ci": "pw-123456"})
    return argocd_standin


def get(argo: ArgoCDStandIn, path: str, **kw: Any) -> requests.Response:
    headers = kw.pop("headers", {"Authorization": f"Bearer {argo.token}"})
    return requests.get(argo.url + path, headers=headers, timeout=5, **kw)


def test_application_matches_swagger(argo):
    argo.add_app(
        "orders-dev",
        revision=E,
        phase="Running",
        retry_count=1,
        pending_operation=True,
        resources=[{"kind": "Deployment", "name": "orders", "images": ["r/orders:1"]}],
        hooks=[{"name": "smoke", "phase": "Running"}],
    )
    app = get(argo, "/api/v1/applications/orders-dev").json()
    check_shape(app, ref("v1alpha1Application"))
    op = app["status"]["operationState"]
    assert op["retryCount"] == 1 and op["finishedAt"]  # a retry: Running with finishedAt filled
    assert op["operation"]["sync"]["syncStrategy"] == {"hook": {}}
    assert app["operation"]["sync"]["revision"] == E


def test_errors_as_grpc_gateway_writes_them(argo):
    argo.add_app("orders-dev", revision=E, project="payments")
    for path, headers, code in [
        ("/api/v1/applications/nope", None, 403),
        ("/api/v1/applications/nope?project=payments", None, 404),
        ("/api/v1/applications/orders-dev?project=other", None, 404),
        ("/api/v1/applications/orders-dev", {"Authorization": "Bearer wrong"}, 401),
    ]:
        kw = {"headers": headers} if headers else {}
        response = get(argo, path, **kw)
        assert response.status_code == code, path
        check_shape(response.json(), ref("runtimeError"))
        assert response.json()["message"]


def test_session_and_cookie_auth(argo):
    argo.add_app("a", revision=E)
    bad = requests.post(argo.url + "/api/v1/session", json={"username": "ci", "password": "no"}, timeout=5)
    assert bad.status_code == 401
    good = requests.post(
        argo.url + "/api/v1/session", json={"username": "ci", "password": "pw-123456"}, timeout=5
    )
    token = good.json()["token"]
    check_shape(good.json(), ref("sessionSessionResponse"))
    assert get(argo, "/api/v1/applications/a", headers={"Cookie": f"argocd.token={token}"}).status_code == 200
    check_shape(get(argo, "/api/version").json(), ref("versionVersionMessage"))


def test_stream_is_ndjson_one_event_per_change(argo):
    argo.add_app("a", revision=E, phase="Running")
    with get(argo, "/api/v1/stream/applications?name=a", stream=True) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        lines = response.iter_lines(chunk_size=None)
        first = json.loads(next(lines))
        argo.set_state("a", phase="Succeeded")
        second = json.loads(next(lines))
    for event in (first, second):
        check_shape(event["result"], ref("v1alpha1ApplicationWatchEvent"))
    assert first["result"]["type"] == "ADDED" and second["result"]["type"] == "MODIFIED"
    assert second["result"]["application"]["status"]["operationState"]["phase"] == "Succeeded"


def test_faults_502_reset_and_dropped_stream(argo):
    argo.add_app("a", revision=E)
    argo.faults.fail_next = 1
    assert get(argo, "/api/v1/applications/a").status_code == 502
    assert get(argo, "/api/v1/applications/a").status_code == 200
    argo.faults.reset_next = 1
    with pytest.raises(requests.ConnectionError):
        get(argo, "/api/v1/applications/a")
    argo.faults.drop_stream_after = 1
    with get(argo, "/api/v1/stream/applications?name=a", stream=True) as response:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            list(response.iter_lines(chunk_size=None))


def test_expired_token_ends_the_stream_and_is_refused(argo):
    argo.add_app("a", revision=E)
    with get(argo, "/api/v1/stream/applications?name=a", stream=True) as response:
        lines = response.iter_lines(chunk_size=None)
        next(lines)
        argo.expire_tokens()
        assert list(lines) == []
    assert get(argo, "/api/v1/applications/a").status_code == 401


def test_scenario_file_with_refresh_start(argo, tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(f"""
apps:
  orders-dev:
    initial: {{revision: "{"1" * 40}"}}
    start: refresh
    steps:
      - [0.05, {{revision: "{E}", sync: OutOfSync}}]
      - {{after: 0.05, state: {{phase: Succeeded, sync: Synced}}}}
faults: {{fail_next: 0}}
""")
    scenario.apply(argo, scenario.load(path))
    time.sleep(0.2)
    assert get(argo, "/api/v1/applications/orders-dev").json()["status"]["sync"]["revision"] == "1" * 40
    get(argo, "/api/v1/applications/orders-dev?refresh=normal")

    def revision() -> str:
        return get(argo, "/api/v1/applications/orders-dev").json()["status"]["sync"]["revision"]

    deadline = time.monotonic() + 15  # the steps take 0.1 s; a slow machine may take longer
    while revision() != E and time.monotonic() < deadline:
        time.sleep(0.02)
    assert revision() == E


def test_scenario_rejects_unknown_keys(argo):
    with pytest.raises(ValueError, match="unknown app state keys"):
        scenario.apply(argo, {"apps": {"a": {"initial": {"helth": "Healthy"}}}})
    with pytest.raises(ValueError, match="unknown fault"):
        scenario.apply(argo, {"apps": {}, "faults": {"explode": True}})


# -- following a GitOps repository --------------------------------------------------------
BASE = """apiVersion: apps/v1
kind: Deployment
metadata: {name: orders}
spec:
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec: {containers: [{name: orders, image: registry.example.com/orders:1.0.0}]}
"""
HOOK = """apiVersion: batch/v1
kind: Job
metadata:
  name: smoke-test
  annotations: {"argocd.argoproj.io/hook": PostSync, "pipekit.dev/standin-result": RESULT}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: t, image: busybox}]}
"""


def gitops_repo(tmp_path: Path, hook_result: str | None = None) -> tuple[Path, Path]:
    bare, work = tmp_path / "gitops.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("clone", "-q", str(bare), str(work), cwd=tmp_path)
    git("config", "user.email", "ci@example.com", cwd=work)
    git("config", "user.name", "CI", cwd=work)
    (work / "base").mkdir()
    (work / "base" / "deployment.yaml").write_text(BASE)
    resources = ["deployment.yaml"] + (["hook.yaml"] if hook_result else [])
    (work / "base" / "kustomization.yaml").write_text("resources: [" + ", ".join(resources) + "]\n")
    if hook_result:
        (work / "base" / "hook.yaml").write_text(HOOK.replace("RESULT", hook_result))
    (work / "overlays" / "dev").mkdir(parents=True)
    (work / "overlays" / "dev" / "kustomization.yaml").write_text(
        "resources: [../../base]\nnamespace: orders-dev\nimages:\n  - name: registry.example.com/orders\n"
        "    newTag: '1.0.0'\n"
    )
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "init", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return bare, work


def push_tag(work: Path, tag: str, content: str | None = None) -> str:
    path = work / "overlays" / "dev" / "kustomization.yaml"
    path.write_text(content or path.read_text().replace("newTag: '1.0.0'", f"newTag: '{tag}'"))
    git("commit", "-q", "-am", f"orders {tag}", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.mark.slow
def test_follows_gitops_repo_through_a_rollout(tmp_path):
    from pipekit.argocd.state import SUCCEEDED, judge
    from pipekit.testing.argocd.gitops import GitOpsFollower

    bare, work = gitops_repo(tmp_path)
    with ArgoCDStandIn() as argo:
        follower = GitOpsFollower(argo, step=0.1, poll=60)
        follower.follow("orders-dev", bare, "overlays/dev")
        head = push_tag(work, "1.1.0")
        seen: list[tuple[str, str, str]] = []
        with get(argo, "/api/v1/stream/applications?name=orders-dev", stream=True) as stream:
            get(argo, "/api/v1/applications/orders-dev?refresh=normal")
            for line in stream.iter_lines(chunk_size=None):
                application = json.loads(line)["result"]["application"]
                st = application["status"]
                seen.append(
                    (
                        st["sync"]["status"],
                        st["health"]["status"],
                        st.get("operationState", {}).get("phase", ""),
                    )
                )
                if judge(application, head).status == SUCCEEDED:
                    break
        app = get(argo, "/api/v1/applications/orders-dev").json()
    assert ("OutOfSync", "Healthy", "Succeeded") in seen and ("OutOfSync", "Progressing", "Running") in seen
    assert ("Synced", "Healthy", "Running") in seen
    result = app["status"]["operationState"]["syncResult"]
    assert result["revision"] == head
    hook = [r for r in result["resources"] if r.get("hookType")]
    assert hook == [
        {
            "group": "batch",
            "version": "v1",
            "kind": "Job",
            "namespace": "orders-dev",
            "name": "orders-dev-smoke-test",
            "status": "Synced",
            "message": "Reached expected number of succeeded pods",
            "hookType": "PostSync",
            "hookPhase": "Succeeded",
            "syncPhase": "PostSync",
        }
    ]
    deployment = [r for r in result["resources"] if r["kind"] == "Deployment"][0]
    assert deployment["images"] == ["registry.example.com/orders:1.1.0"]  # rendered by kubectl kustomize


@pytest.mark.slow
def test_gitops_rendered_hook_failure_and_render_error(tmp_path):
    from pipekit.argocd.state import FAILED, judge
    from pipekit.testing.argocd.gitops import GitOpsFollower

    bare, work = gitops_repo(tmp_path, hook_result="Failed")
    with ArgoCDStandIn() as argo:
        follower = GitOpsFollower(argo, step=0.05, poll=60)
        follower.follow("orders-dev", bare, "overlays/dev")
        head = push_tag(work, "1.1.0")
        follower.refresh("orders-dev")
        deadline = time.monotonic() + 30  # git, kubectl kustomize, the steps
        while judge(argo.apps["orders-dev"].to_json(), head).status != FAILED and time.monotonic() < deadline:
            time.sleep(0.05)
        verdict = judge(argo.apps["orders-dev"].to_json(), head)
        assert verdict.status == FAILED and verdict.failed_hooks[0].name == "smoke-test"
        broken = push_tag(work, "x", content="resources: [../../missing]\n")
        follower.refresh("orders-dev")
        deadline = time.monotonic() + 30  # git, kubectl kustomize, the steps
        while (
            judge(argo.apps["orders-dev"].to_json(), broken).status != FAILED and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        verdict = judge(argo.apps["orders-dev"].to_json(), broken)
    assert verdict.status == FAILED and "ComparisonError: failed to render overlays/dev" in verdict.reason


@pytest.mark.slow
def test_module_cli_follows_repo_and_wait_succeeds(tmp_path):
    bare, work = gitops_repo(tmp_path)
    token_file = tmp_path / "token"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipekit.testing.argocd",
            "--gitops-repo",
            str(bare),
            "--app",
            "orders-dev=overlays/dev",
            "--step",
            "0.1",
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"on http://(127\.0\.0\.1:\d+) serving orders-dev", first)
        assert match, first + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        head = push_tag(work, "2.0.0")
        from tests.conftest import run_pipekit

        done = run_pipekit(
            "wait-for-argocd",
            "--app",
            "orders-dev",
            "--revision",
            head,
            "--plaintext",
            "--timeout",
            "60",
            env={
                "ARGOCD_SERVER": match.group(1),
                "ARGOCD_AUTH_TOKEN": token_file.read_text().strip(),
                "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
            },
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "hooks passed at revision " + head[:7] in done.stdout
    finally:
        proc.terminate()
        proc.wait(5)
