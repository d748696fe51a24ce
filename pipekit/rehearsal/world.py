"""The local world a rehearsal's pipeline runs against: every outside system as a stand-in on 127.0.0.1.

:class:`World` starts them at once (in threads: moto and the registry are processes) and stops
them all in :meth:`World.close`, whatever happened:

- the GitOps repository's host: bare repositories served over smart HTTP
  (:mod:`pipekit.testing.gitserver`), as a step in its image must reach them over the network;
- AWS: moto (ECR and STS; the runner's OIDC token is accepted by ``AssumeRoleWithWebIdentity``) and
  Debian's ``docker-registry`` standing in for the ECR registry host;
- Argo CD (:mod:`pipekit.testing.argocd`) following init's Applications on the bare repository,
  their PostSync Jobs run for real (``pipekit post-sync-test``) against the Kubernetes API stand-in;
- Jira (:mod:`pipekit.testing.jira`), seeded with the version the build will record;
- Teams, Slack and Bitbucket's Code Insights API: one webhook sink recording every request;
- Bitbucket Cloud's pull requests on the GitOps repository (:mod:`pipekit.testing.bitbucket`),
  over the same bare repository the git host serves, for the environments that go by pull request.

:meth:`World.variables` is what a team would set in Bitbucket's repository settings, pointed at
these; :data:`SUBSTITUTED` says what each stand-in replaces, for the summary.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipekit.testing.argocd import ArgoCDStandIn
    from pipekit.testing.argocd.gitops import GitOpsFollower
    from pipekit.testing.argocd.hooks import PostSyncRunner
    from pipekit.testing.bitbucket import BitbucketStandIn, Repository
    from pipekit.testing.gitserver import GitServer
    from pipekit.testing.jira import JiraStandIn
    from pipekit.testing.kubernetes import KubernetesStandIn
    from pipekit.testing.moto import MotoServer
    from pipekit.testing.registry import LocalRegistry
    from pipekit.testing.sink import WebhookSink

API_TESTS = Path(__file__).with_name("sample") / "api-tests"  # the PostSync Job's suite: its image's content
JIRA_EMAIL, JIRA_TOKEN = "rehearsal@pipekit.local", "jira-" + os.urandom(6).hex()
AWS_ROLE = "arn:aws:iam::123456789012:role/bitbucket-pipelines"
# What each stand-in replaces, and through which setting the pipeline reaches it (the summary's table)
SUBSTITUTED = (
    (
        "GitOps repository host",
        "a smart-HTTP git server on 127.0.0.1",
        "init --gitops-repo; PIPEKIT_GITOPS_TOKEN",
    ),
    ("AWS (ECR API, STS)", "moto", "AWS_ENDPOINT_URL, AWS_ROLE_ARN (the step's OIDC token)"),
    ("ECR registry host", "Debian's docker-registry", "PIPEKIT_ECR_REGISTRY_OVERRIDE"),
    (
        "Argo CD",
        "pipekit's Argo CD stand-in, PostSync Jobs run as processes",
        "ARGOCD_SERVER, ARGOCD_AUTH_TOKEN",
    ),
    ("Kubernetes", "pipekit's Kubernetes API stand-in (the PostSync Job's cluster)", "the Job's kubeconfig"),
    ("Jira", "pipekit's Jira stand-in", "JIRA_BASE_URL, JIRA_USER_EMAIL, JIRA_API_TOKEN"),
    ("Teams, Slack", "a webhook sink", "PIPEKIT_TEAMS_WEBHOOK_URL, PIPEKIT_SLACK_WEBHOOK_URL"),
    ("Bitbucket Code Insights API", "the same sink", "PIPEKIT_BITBUCKET_API_URL"),
)


@dataclass
class World:
    workdir: Path
    env: Mapping[str, str] = field(default_factory=dict)  # the Jobs' environment (PATH, ...)
    git: GitServer | None = None
    moto: MotoServer | None = None
    registry: LocalRegistry | None = None
    argocd: ArgoCDStandIn | None = None
    kube: KubernetesStandIn | None = None
    follower: GitOpsFollower | None = None
    jira: JiraStandIn | None = None
    sink: WebhookSink | None = None
    bitbucket: BitbucketStandIn | None = None
    hook_env: dict[str, str] = field(default_factory=dict)  # more for the PostSync Jobs (--fail-at hook)
    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # optional stand-ins that could not start
    _started: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def repos(self) -> Path:
        return self.workdir / "git"

    def start(self) -> World:
        """Start every stand-in (the slow ones at once); on a failure, stop what started and raise."""
        from pipekit.testing.argocd import ArgoCDStandIn
        from pipekit.testing.argocd.gitops import GitOpsFollower
        from pipekit.testing.bitbucket import BitbucketStandIn
        from pipekit.testing.gitserver import GitServer
        from pipekit.testing.jira import JiraStandIn
        from pipekit.testing.kubernetes import KubernetesStandIn
        from pipekit.testing.moto import MotoServer
        from pipekit.testing.registry import LocalRegistry
        from pipekit.testing.sink import WebhookSink

        self.repos.mkdir(parents=True, exist_ok=True)
        makers: dict[str, Callable[[], Any]] = {
            "moto": MotoServer,
            "registry": lambda: LocalRegistry(root=self.workdir / "registry"),
            "git": lambda: GitServer(self.repos),
            "argocd": ArgoCDStandIn,
            "kube": KubernetesStandIn,
            "jira": lambda: JiraStandIn(email=JIRA_EMAIL, token=JIRA_TOKEN),
            "sink": WebhookSink,
            "bitbucket": BitbucketStandIn,
        }
        try:
            with ThreadPoolExecutor(max_workers=len(makers), thread_name_prefix="rehearsal-start") as pool:
                for name, server in zip(makers, pool.map(self._start_one, makers.items()), strict=True):
                    setattr(self, name, server)
            assert self.argocd is not None and self.kube is not None
            self.follower = GitOpsFollower(
                self.argocd, step=0.1, poll=1.0, hook_runner=self._hook_runner()
            ).start()
        except BaseException:
            self.close()
            raise
        return self

    def _start_one(self, item: tuple[str, Callable[[], Any]]) -> Any:
        name, make = item
        server = make()
        with self._lock:
            self._started.append(server)
        try:
            server.start()
        except Exception as exc:
            if name not in OPTIONAL:
                raise
            # moto or docker-registry missing (the base image ships neither): the steps that need AWS fail
            self.missing.append(
                f"{type(server).__name__} did not start ({exc}): steps that push the image "
                "or read it from the registry cannot pass"
            )
            return None
        return server

    def _hook_runner(self) -> JobRunner:
        from pipekit.testing.argocd.hooks import PostSyncRunner

        assert self.kube is not None
        # the Job's image has pipekit first on PATH, as the pipekit image has
        path = os.pathsep.join([str(Path(sys.executable).parent), self.env.get("PATH", os.defpath)])
        env = {k: v for k, v in self.env.items() if k in ("HOME", "LANG", "TMPDIR")}
        return JobRunner(
            PostSyncRunner(
                self.kube,
                self.workdir / "hooks",
                env={**env, "PATH": path},
                step=0.05,
                linger=0.2,
                timeout=120,
            ),
            self.hook_env,
        )

    def gitops_repo(self, name: str, branch: str) -> str:
        """A bare repository holding only a README on ``branch``, as a platform team's new one; its URL."""
        from pipekit.clients.git import Git, isolated_env

        assert self.git is not None
        bare = self.repos / f"{name}.git"
        seed = self.workdir / f"{name}-seed"
        seed.mkdir()
        (seed / "README.md").write_text(
            "# GitOps\n\nOne folder per service under apps/, its Argo CD apps under argocd/.\n",
            encoding="utf-8",
        )
        git = Git(seed, isolated_env(self.env))
        git.output("init", "-q", "-b", branch)
        git.output("add", ".")
        git.output(*IDENTITY, "commit", "-q", "-m", "GitOps repository")
        git.output("clone", "-q", "--bare", str(seed), str(bare))
        shutil.rmtree(seed, ignore_errors=True)
        return self.git.url(name)

    def follow(self, bare: Path, service: str, branch: str) -> list[str]:
        """Argo CD follows every Application init wrote for ``service`` (its project, path,
        branch); their names."""
        from pipekit.core import yamlload

        assert self.follower is not None
        from pipekit.clients.git import Git, isolated_env

        git = Git(bare, isolated_env(self.env))
        names = []
        for path in git.output(
            "ls-tree", "-r", "--name-only", branch, f"argocd/{service}/apps/"
        ).splitlines():
            doc: Any = yamlload.load(git.output("show", f"{branch}:{path}"), path)
            if isinstance(doc, dict) and doc.get("kind") == "Application":
                spec = doc.get("spec") or {}
                name = str(doc["metadata"]["name"])
                self.follower.follow(
                    name,
                    bare,
                    str(spec["source"]["path"]),
                    branch=branch,
                    project=str(spec.get("project") or "default"),
                )
                names.append(name)
        return names

    def variables(self) -> dict[str, Any]:
        """The repository variables that point the generated pipeline at the stand-ins
        (secured ones marked)."""
        assert self.argocd and self.jira and self.sink and self.git
        aws = {"AWS_ROLE_ARN": AWS_ROLE, "AWS_ENDPOINT_URL": self.moto.url} if self.moto else {}
        if (
            self.registry
        ):  # podman's Docker API (the docker service) logs in over plain HTTP only to "localhost"
            aws["PIPEKIT_ECR_REGISTRY_OVERRIDE"] = f"localhost:{self.registry.port}"
        return {
            **aws,
            "PIPEKIT_GITOPS_TOKEN": secured(self.git.token),
            "ARGOCD_SERVER": self.argocd.server,
            "ARGOCD_AUTH_TOKEN": secured(self.argocd.token),
            "PIPEKIT_ARGOCD_PLAINTEXT": "true",
            "JIRA_BASE_URL": self.jira.base_url,
            "JIRA_USER_EMAIL": JIRA_EMAIL,
            "JIRA_API_TOKEN": secured(JIRA_TOKEN),
            "PIPEKIT_BITBUCKET_API_URL": f"{self.sink.base_url}/bitbucket",
        }

    def serve_pull_requests(
        self, bare: Path, branch: str, min_approvals: int, *, owner: str, slug: str, bot: str
    ) -> Repository:
        """Bitbucket's pull requests on the GitOps repository (``owner/slug``): the stand-in over the same
        bare repository the git host serves (a merge there is what Argo CD follows), the pipeline's token
        acting as ``bot``, and a merge check asking for ``min_approvals`` approvals
        other than the author's."""
        assert self.bitbucket is not None and self.git is not None
        repo = self.bitbucket.add_repository(
            owner, slug, path=bare, main_branch=branch, min_approvals=min_approvals
        )
        self.bitbucket.add_token(self.git.token, bot)  # the one token the push and the API take
        return repo

    def deployment_variables(
        self, environments: Sequence[str], by_pull_request: Sequence[str]
    ) -> dict[str, Any]:
        """Bitbucket's deployment variables: the environments that go by pull request reach Bitbucket's API at
        the stand-in (the repository's PIPEKIT_BITBUCKET_API_URL, Code Insights', stays the sink)."""
        assert self.bitbucket is not None
        return {
            env: {"PIPEKIT_BITBUCKET_API_URL": self.bitbucket.base_url} if env in by_pull_request else {}
            for env in environments
        }

    def seed_jira(self, settings: Mapping[str, Any], *, fail_at: str | None = None) -> None:
        """The Jira stand-in holds the version the build records (the sample's Maven version),
        as the gate requires."""
        from pipekit.jira import version as versions

        jira = settings.get("jira") or {}
        project = str(jira.get("project") or "DEMO")
        require = str(jira.get("require") or "unreleased")
        statuses = [str(s) for s in jira.get("allowed_statuses") or []]
        version = versions.apply(
            versions.compile_pattern(str(jira.get("version_pattern") or versions.DEFAULT_PATTERN)),
            "1.0.0",
            "the sample's Maven version",
        )
        assert self.jira is not None
        released = require == "released"
        if fail_at == "gate" and not statuses:  # issues are not checked: the version's state is what fails
            released = not released
        self.jira.add_version(project, version, released=released)
        self.jira.add_issue(
            project,
            "demo-service: the change under test",
            statuses[-1] if statuses else "Done",
            fix_versions=(version,),
        )
        if fail_at == "gate" and statuses:
            self.jira.add_issue(
                project, "demo-service: a blocker found in review", "In Progress", fix_versions=(version,)
            )

    def webhook(self, kind: str, name: str) -> str:
        assert self.sink is not None
        return self.sink.url(kind, secret=f"sig-rehearsal-{name}")

    def close(self) -> list[str]:
        """Stop everything started; the problems met, as lines."""
        for server in reversed(self._started):
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                self.problems.append(f"stopping {type(server).__name__}: {exc}")
        self._started.clear()
        return self.problems


def secured(value: str) -> dict[str, Any]:
    """A secured repository variable, as Bitbucket's API marks one."""
    return {"value": value, "secured": True}


OPTIONAL = ("moto", "registry")  # test extras / Debian packages the base image does not ship
IDENTITY = ("-c", "user.name=Dev Eloper", "-c", "user.email=dev@pipekit.local", "-c", "commit.gpgsign=false")


class JobRunner:
    """The PostSync hook runner: the Job's folder gets the suite its image would hold,
    then it runs for real."""

    def __init__(self, inner: PostSyncRunner, extra_env: dict[str, str]) -> None:
        self.inner, self.extra_env = inner, extra_env

    def __call__(
        self, app: str, revision: str, hook: dict[str, Any], resources: list[dict[str, Any]]
    ) -> tuple[str, str]:
        home = self.inner.workdir / app
        shutil.copytree(
            API_TESTS, home / "api-tests", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
        self.inner.env.update(self.extra_env)
        phase, message = self.inner(app, revision, hook, resources)
        if self.inner.runs:  # the Job's log, as kubectl logs would show it
            run = self.inner.runs[-1]
            (home / "job.log").write_text(run.stdout + run.stderr, encoding="utf-8")
        return phase, message
