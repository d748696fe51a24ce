"""The rehearsal's PostSync hook: a real ``pipekit post-sync-test`` process per sync.

The GitOps base holds the PostSync Job ``pipekit init`` wrote (:mod:`pipekit.rehearsal.onboard`):
``pipekit post-sync-test --wait-ready deployment/demo-service --junit-dir /reports -- python3
api-tests/run.py --junit-xml /reports/demo-service-api.xml``. The Argo CD stand-in renders it and
:class:`~pipekit.testing.argocd.hooks.PostSyncRunner` runs it for real against the Kubernetes API
stand-in, which rolls the Deployment out on each sync. The Job's folder (``hooks/<app>/``) plays
its container: the sample's API tests (its image's content), its own run record, kubeconfig, and
``reports/`` for its ``/reports`` volume (the JUnit files). When the Job ends its ``post_sync_test``
section is copied into the rehearsal's run record, so wait_for_argocd's card shows the suite and
fails when the hook failed; the ``post_sync_test`` stage then checks the outcome from those files.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipekit.rehearsal.session import Rehearsal
    from pipekit.testing.argocd.hooks import PostSyncRunner


API_TESTS = Path(__file__).with_name("sample") / "api-tests"
JUNIT_DIR = "reports"  # the Job's /reports emptyDir, as the hook runner mounts it


class RecordingRunner:
    """A PostSync hook runner for the rehearsal: the Job's files in place, its result in the run record."""

    def __init__(self, inner: PostSyncRunner, record_path: Path) -> None:
        self.inner, self.record_path = inner, record_path
        self.homes: list[Path] = []
        self.last: dict[str, tuple[str, tuple[str, str]]] = {}  # app -> (what was synced, the hook's outcome)

    def __call__(self, app: str, revision: str, hook: dict[str, Any],
                 resources: list[dict[str, Any]]) -> tuple[str, str]:
        import json

        from pipekit.core.outputs import PostSyncTestResult
        from pipekit.core.runrecord import RunRecord

        # a commit that leaves the app's manifests as they were (a promotion to another overlay) is
        # no new sync for Argo CD, so no new hook run: the stand-in follows every head, Argo CD would not
        synced = json.dumps([resources, hook.get("manifest")], sort_keys=True, default=str)
        if app in self.last and self.last[app][0] == synced:
            return self.last[app][1]
        home = self.inner.workdir / app
        home.mkdir(parents=True, exist_ok=True)
        shutil.copytree(API_TESTS, home / "api-tests", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        self.homes.append(home)
        phase, message = self.inner(app, revision, hook, resources)
        if self.inner.runs:  # the Job's log, as kubectl logs would show it
            run = self.inner.runs[-1]
            (home / "job.log").write_text(run.stdout + run.stderr, encoding="utf-8")
        job = RunRecord.load(home / "run.json").step(PostSyncTestResult.SECTION)
        if job:  # the Job's result, in the pipeline's record as its own section
            record = RunRecord.load(self.record_path)
            record.update_step(PostSyncTestResult.SECTION, **job)
            record.save()
        self.last[app] = (synced, (phase, message))
        return phase, message


def runner(r: Rehearsal) -> RecordingRunner:
    """Start the Kubernetes API stand-in and a runner whose Jobs see the rehearsal's environment."""
    from pipekit.testing.argocd.hooks import PostSyncRunner

    kube = r.servers.kubernetes()
    # the Job's image has pipekit's Python first on PATH, as the pipekit image has
    path = os.pathsep.join([str(Path(sys.executable).parent), r.env.get("PATH", os.defpath)])
    env = {**r.env, "PATH": path, "PIPEKIT_ENV": r.environments[0]}  # the hook runs for the first deploy
    return RecordingRunner(PostSyncRunner(kube, r.workdir / "hooks", env=env, step=0.05, linger=0.2, timeout=120),
                           r.record_path)


def post_sync_test_stage(r: Rehearsal) -> str:
    """The hook's outcome from what it left: the run record's section and the JUnit report."""
    from pipekit.cards.model import tests_text
    from pipekit.core.outputs import PostSyncTestResult, UpdateTagResult
    from pipekit.core.runrecord import Status

    record = r.context(quiet=True).record
    out = PostSyncTestResult.read(record)
    if out.step_status is None:
        raise RuntimeError("the PostSync hook did not run pipekit post-sync-test (no post_sync_test in the run record)")
    if out.step_status is not Status.SUCCEEDED or out.result not in ("passed", "flaky"):
        raise RuntimeError(f"the PostSync hook's suite {out.suite}: {out.result}: {out.message}")
    deployed = UpdateTagResult.read(record).gitops_revision
    if out.gitops_revision != deployed:
        raise RuntimeError(f"the PostSync hook tested GitOps revision {out.gitops_revision}, not the one deployed "
                           f"({deployed})")
    reports = sorted((r.workdir / "hooks").glob(f"*/{JUNIT_DIR}/*.xml"))
    if not reports:
        raise RuntimeError(f"the PostSync hook left no JUnit report in {r.workdir / 'hooks'}/*/{JUNIT_DIR}")
    tests = out.tests if isinstance(out.tests, dict) else {}
    return (f"suite {out.suite} in {out.namespace}: {tests_text(tests)} (pipekit post-sync-test, "
            f"ready after {out.ready_s:g} s); JUnit {reports[-1].relative_to(r.workdir)}")
