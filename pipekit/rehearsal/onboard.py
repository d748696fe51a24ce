"""The rehearsal's sample service onboarded by the real ``pipekit init``, as a team would onboard theirs.

An empty GitOps repository (``<workdir>/gitops.git``, one README commit) is made first; then
``init`` runs through its library API in the sample's checkout with ``--gitops-repo`` pointing at
it: it writes ``bitbucket-pipelines.yml``, ``pipekit.yaml`` and ``.pipekit/init.yaml`` into the
sample (committed there as the team would) and commits and pushes the GitOps base, one overlay
per environment, the Argo CD apps and the PostSync test Job, with its checks run before anything
is written. The PostSync Job's suite is the sample's API tests, run by ``api-tests/run.py``
(standard library only: the base image ships no pytest). The image repository is the ECR
repository moto will hold (moto's account, ``us-east-1``); ``ecr_push`` pushes it to the local
registry standing in for that host.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.revision import short_revision
from pipekit.rehearsal import workspace

if TYPE_CHECKING:
    from pipekit.core.console import Console
    from pipekit.init import InitResult

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account; the rehearsal's region
# The URL Argo CD would read the rehearsal's GitOps repository from: the stand-in follows the local
# bare repository itself, and the steps reach it through the rehearsal's settings (gitops.repo).
GITOPS_URL = "https://git.rehearsal.pipekit.local/gitops.git"
SUITE_NAME = "demo-service-api"
SUITE = ("python3", "api-tests/run.py", "--junit-xml", f"/reports/{SUITE_NAME}.xml")
NEW = {"create": "new"}  # init's plan actions, as the summary says them
AUTHOR = {"name": "pipekit rehearsal", "email": "rehearsal@pipekit.local"}


@dataclass
class Application:
    """An Argo CD Application init wrote: what the Argo CD stand-in is to follow."""

    name: str
    path: str
    namespace: str


def image_repo(service: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{service}"


def gitops_repo(workdir: Path, env: Mapping[str, str]) -> Path:
    """A bare GitOps repository holding only a README, as a platform team's new repository would."""
    seed = workdir / "gitops-seed"
    seed.mkdir()
    (seed / "README.md").write_text("# GitOps\n\nOne folder per service under apps/, its Argo CD apps under argocd/.\n",
                                    encoding="utf-8")
    workspace.git("init", "-q", "-b", "main", cwd=seed, env=env)
    workspace.git("add", ".", cwd=seed, env=env)
    workspace.git("commit", "-q", "-m", "GitOps repository", cwd=seed, env=env)
    bare = workdir / "gitops.git"
    workspace.git("clone", "-q", "--bare", str(seed), str(bare), cwd=workdir, env=env)
    workspace.git("config", "uploadpack.allowFilter", "true", cwd=bare, env=env)
    shutil.rmtree(seed, ignore_errors=True)
    return bare


def onboard(workdir: Path, repo: Path, service: str, environments: Sequence[str], env: Mapping[str, str],
            console: Console) -> InitResult:
    """``pipekit init --service SERVICE --gitops-repo <workdir>/gitops.git --image-repo <ECR> ...`` in ``repo``."""
    import yaml

    from pipekit import init
    from pipekit.core.console import Console as ConsoleType
    from pipekit.core.step import StepContext

    bare = gitops_repo(workdir, env)
    config = workdir / "init-settings.yaml"  # init commits through the update-tag writer, as this author
    config.write_text(yaml.safe_dump({"gitops": {"author": AUTHOR}}), encoding="utf-8")
    ctx = StepContext.create(env=dict(env), run_record=workdir / "init-run.json", config_path=config,
                             debug=console.debug_enabled, cwd=repo)
    ctx.console = ConsoleType(stream=io.StringIO(), debug=console.debug_enabled)
    # without kubectl, init checks everything but the renders (and the stages that need kubectl are skipped)
    renderer = init.InitOptions.renderer if shutil.which("kubectl", path=env.get("PATH")) else "none"
    from pipekit.rehearsal.settings import JIRA_DEFAULTS

    result = init.run(init.InitOptions(service=service, gitops_repo=str(bare), gitops_url=GITOPS_URL,
                                       image_repo=image_repo(service), environments=tuple(environments),
                                       suite=SUITE, service_dir=repo, renderer=renderer,
                                       jira_project=str(JIRA_DEFAULTS["project"])), ctx)
    config.unlink()
    workspace.git("add", ".", cwd=repo, env=env)
    workspace.git("commit", "-q", "-m", f"Onboard {service} with pipekit init {result.pipekit_version}",
                  cwd=repo, env=env)
    return result


def applications(bare: Path, service: str, env: Mapping[str, str]) -> dict[str, Application]:
    """Environment -> the Argo CD Application init wrote for it (``argocd/<service>/apps/<service>-<env>.yaml``)."""
    from pipekit.core import yamlload

    found = {}
    listing = workspace.git("ls-tree", "-r", "--name-only", "main", f"argocd/{service}/apps/", cwd=bare, env=env)
    for name in listing.splitlines():
        doc: Any = yamlload.load(workspace.git("show", f"main:{name}", cwd=bare, env=env), name)
        if not isinstance(doc, dict) or doc.get("kind") != "Application":
            continue
        spec = doc.get("spec") or {}
        app = Application(str(doc["metadata"]["name"]), str(spec["source"]["path"]),
                          str((spec.get("destination") or {}).get("namespace", "")))
        found[app.name.removeprefix(f"{service}-")] = app
    return found


def summary(result: InitResult) -> str:
    counts: dict[str, int] = {}
    for action in result.files.values():
        counts[action] = counts.get(action, 0) + 1
    skipped = f"; skipped: {', '.join(result.skipped_checks)}" if result.skipped_checks else ""
    return (f"pipekit init {result.pipekit_version}: {len(result.files)} files "
            f"({', '.join(f'{n} {NEW.get(a, a)}' for a, n in sorted(counts.items()))}), GitOps commit "
            f"{short_revision(result.gitops_revision)}; checks passed: {', '.join(result.checks) or 'none'}{skipped}")
