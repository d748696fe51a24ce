"""``pipekit rehearse --fail-at STAGE``: make one stage fail for real, by changing what it reads.

Nothing is faked in the step itself: the rehearsal's inputs or a stand-in's answers change, and the
real step meets them as it would in a real pipeline.

- ``scan``: the bundled SCA report gets a critical finding (a copy in the work folder), so the
  security gate blocks;
- ``tests``: a change to the sample service adds a failing JUnit test, so Maven's test run fails;
- ``deploy``: the Argo CD stand-in reports the app ``Degraded`` and its operation ``Failed``;
- ``hook``: the PostSync Job's API tests ask for more ready replicas than the Deployment has
  (``DEMO_API_MIN_READY=99`` in the Job's environment), so a real test fails, ``post-sync-test``
  exits 1, the hook is Failed and ``wait_for_argocd`` fails on it;
- ``gate``: the Jira stand-in holds one more issue in the version, still ``In Progress``
  (the first promotion through a ``jira`` gate fails).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from pipekit.rehearsal.session import Rehearsal

FailAt = Literal["scan", "tests", "deploy", "hook", "gate"]
CHOICES: tuple[str, ...] = get_args(FailAt)
STAGE = {"scan": "scan", "tests": "build", "deploy": "wait_for_argocd", "hook": "wait_for_argocd"}  # that fails
WHAT = {
    "scan": "a critical finding added to the bundled SCA report",
    "tests": "a failing JUnit test added to the sample service",
    "deploy": "the Argo CD stand-in reports the app Degraded, its operation Failed",
    "hook": "the PostSync Job's API tests ask for 99 ready replicas (DEMO_API_MIN_READY=99)",
    "gate": "a blocking issue (In Progress) in the Jira version",
}
CRITICAL = {
    "Target": "pom.xml",
    "Class": "lang-pkgs",
    "Type": "pom",
    "Vulnerabilities": [{
        "VulnerabilityID": "CVE-2021-44228",
        "PkgName": "org.apache.logging.log4j:log4j-core",
        "PkgIdentifier": {"PURL": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
        "InstalledVersion": "2.14.1",
        "FixedVersion": "2.15.0",
        "Severity": "CRITICAL",
        "Title": "log4j-core: Remote code execution in Log4j 2.x (rehearsed by --fail-at scan)",
        "CweIDs": ["CWE-502"],
    }],
}
FAILING_TEST = """\
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Added by pipekit rehearse --fail-at tests: a change whose test fails. */
class RehearsalFailAtTest {
    @Test
    void aChangeThatBreaksTheBuild() {
        assertEquals("Hello, Ada!", "Hello, Grace!", "rehearsed test failure (--fail-at tests)");
    }
}
"""


def stage_for(fail_at: str, stages: Sequence[Any] | None = None) -> str:
    """The stage that ``--fail-at fail_at`` makes fail among ``stages`` (default: init's);
    ``gate``: the first promotion through a ``jira`` gate ('' when there is none)."""
    if fail_at != "gate":
        return STAGE[fail_at]
    from pipekit.rehearsal.stages import STAGES

    gated = [s.name for s in (STAGES if stages is None else stages) if "jira" in getattr(s.run, "gates", ())]
    return gated[0] if gated else ""


def break_tests(repo: Path, env: dict[str, str]) -> None:
    """Commit a change to the sample service that adds a failing test (the build's test run fails)."""
    from pipekit.rehearsal import workspace

    failing_test(repo)
    workspace.git("add", ".", cwd=repo, env=env)
    workspace.git("commit", "-q", "-m", "Add a test that fails (pipekit rehearse --fail-at tests)", cwd=repo, env=env)


def scan_report(workdir: Path, bundled: Path) -> Path:
    """A copy of the bundled report with one critical SCA finding."""
    doc = json.loads(bundled.read_text(encoding="utf-8"))
    doc.setdefault("Results", []).append(CRITICAL)
    out = workdir / "scan-report-fail-at.json"
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return out


def failing_test(repo: Path) -> Path:
    """A test that fails, in the sample's default test package (any JUnit 5 service runs it)."""
    path = repo / "src" / "test" / "java" / "RehearsalFailAtTest.java"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAILING_TEST, encoding="utf-8")
    return path


def degrade(argocd: Any, app: str) -> None:
    """From now on the stand-in reports ``app`` Degraded, its sync operation Failed, as Argo CD does
    for a Deployment whose pods never become ready."""
    original = argocd.set_state

    def set_state(name: str, **patch: Any) -> None:
        if name == app:
            if patch.get("health") == "Healthy":
                patch["health"] = "Degraded"
            if patch.get("phase") == "Succeeded":
                patch["phase"] = "Failed"
                patch["message"] = ("Deployment/" + app.rsplit("-", 1)[0] + ": progress deadline exceeded "
                                    "(rehearsed by --fail-at deploy)")
        original(name, **patch)

    argocd.set_state = set_state


def arm(fail_at: str, r: Rehearsal) -> None:
    """Change the rehearsal's inputs so that ``fail_at`` fails when its stage runs (``tests``: see
    :func:`break_tests`, done before the commit is read; ``gate``: ``r.fail_at``, read by the Jira stage)."""
    r.fail_at = fail_at
    if fail_at == "hook":  # the hook runner hands the rehearsal's environment to the Job
        r.env["DEMO_API_MIN_READY"] = "99"
    elif fail_at == "deploy":
        servers = r.servers
        follow = servers.follow

        def follow_and_fail(app: str, repo: Path, overlay: str, *args: Any, **kwargs: Any) -> Any:
            argocd = follow(app, repo, overlay, *args, **kwargs)
            degrade(argocd, app)
            return argocd

        servers.follow = follow_and_fail  # type: ignore[method-assign]
