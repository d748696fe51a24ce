"""The rehearsal's temporary world: the sample service repo and the local stand-ins.

The GitOps repository and the sample's pipeline files come from ``pipekit init``
(:mod:`pipekit.rehearsal.onboard`).

Everything lives in one temporary folder and on 127.0.0.1. :class:`Servers` starts moto, the
OCI registry, the Argo CD and the Kubernetes API stand-ins on demand and stops all of them (and removes the images
the rehearsal built) in :meth:`Servers.close`, whatever happened before.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core import process

if TYPE_CHECKING:
    from pipekit.testing.argocd import ArgoCDStandIn
    from pipekit.testing.argocd.gitops import GitOpsFollower, HookRunner
    from pipekit.testing.kubernetes import KubernetesStandIn
    from pipekit.testing.moto import MotoServer
    from pipekit.testing.registry import LocalRegistry

SAMPLE = Path(__file__).with_name("sample")
SCAN_REPORT = Path(__file__).with_name("scan-report.json")
SERVICE = "demo-service"
IDENTITY = ("-c", "user.name=Dev Eloper", "-c", "user.email=dev@pipekit.local", "-c", "commit.gpgsign=false")
ENVIRONMENTS = ("dev", "qa", "preprod", "prod")  # as pipekit init onboards a service by default


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """A git command in the rehearsal's own repositories (the user's git configuration stays out)."""
    from pipekit.clients.git import Git, isolated_env

    return Git(cwd, isolated_env(os.environ if env is None else env)).output(*IDENTITY, *args)


def service_repo(workdir: Path, env: Mapping[str, str]) -> Path:
    """The embedded sample service copied to ``workdir/demo-service``, a git repo with one commit."""
    repo = workdir / SERVICE
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("target", "__pycache__"))
    (repo / ".gitignore").write_text("target/\n", encoding="utf-8")
    git("init", "-q", "-b", "main", cwd=repo, env=env)
    git("add", ".", cwd=repo, env=env)
    # the folder's name in the body makes the commit (so the image's first tag) unique per rehearsal:
    # two rehearsals at once on one machine share the container tool's image store
    git("commit", "-q", "-m", "Add the demo service", "-m", f"Embedded sample for pipekit rehearse ({workdir.name}).",
        cwd=repo, env=env)
    return repo


def missing_maven_artifacts(home: Path, pom: Path = SAMPLE / "pom.xml") -> list[str]:
    """The sample's pinned plugins and test dependency that ``home/.m2/repository`` lacks, as
    ``artifactId:version`` (empty: an offline Maven build can run)."""
    import xml.etree.ElementTree as ET

    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(pom).getroot()
    wanted = []
    for kind in ("m:build/m:pluginManagement/m:plugins/m:plugin", "m:build/m:plugins/m:plugin",
                 "m:dependencies/m:dependency"):
        for node in root.findall(kind, ns):
            group = node.findtext("m:groupId", "org.apache.maven.plugins", ns)
            artifact, version = node.findtext("m:artifactId", "", ns), node.findtext("m:version", "", ns)
            if artifact and version:
                wanted.append((group, artifact, version))
    repo = home / ".m2" / "repository"
    return [f"{a}:{v}" for g, a, v in dict.fromkeys(wanted)
            if not (repo / g.replace(".", "/") / a / v / f"{a}-{v}.pom").is_file()]


# -- stand-ins ------------------------------------------------------------------------------
class Servers:
    """The local stand-ins, started when first needed, all stopped by :meth:`close`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rehearsal-start")
        self._aws: Future[tuple[MotoServer, LocalRegistry]] | None = None
        self.argocd: ArgoCDStandIn | None = None
        self.follower: GitOpsFollower | None = None
        self.kube: KubernetesStandIn | None = None
        self.images: list[tuple[str, str]] = []  # (container tool, image ID) to remove at the end
        self._started: list[Any] = []

    def start_aws(self) -> None:
        """Start moto and the registry in the background (while Maven runs)."""
        if self._aws is None:
            self._aws = self._pool.submit(self._start_aws)

    def _start_aws(self) -> tuple[MotoServer, LocalRegistry]:
        from pipekit.testing.moto import MotoServer
        from pipekit.testing.registry import LocalRegistry

        moto = MotoServer()
        self._started.append(moto)
        moto.start()
        registry = LocalRegistry(root=self.workdir / "registry")  # kept with --keep
        self._started.append(registry)
        registry.start()
        return moto, registry

    def aws(self) -> tuple[MotoServer, LocalRegistry]:
        self.start_aws()
        assert self._aws is not None
        return self._aws.result()

    def kubernetes(self) -> KubernetesStandIn:
        """The Kubernetes API stand-in the PostSync hooks run against."""
        from pipekit.testing.kubernetes import KubernetesStandIn

        if self.kube is None:
            self.kube = KubernetesStandIn()
            self._started.append(self.kube)
            self.kube.start()
        return self.kube

    def follow(self, app: str, repo: Path, overlay: str, hook_runner: HookRunner | None = None) -> ArgoCDStandIn:
        """The Argo CD stand-in serving ``app`` from ``overlay`` of ``repo``, as an auto-synced app;
        ``hook_runner`` runs its PostSync hooks for real (the first follow decides)."""
        from pipekit.testing.argocd import ArgoCDStandIn
        from pipekit.testing.argocd.gitops import GitOpsFollower

        if self.argocd is None:
            self.argocd = ArgoCDStandIn()
            self._started.append(self.argocd)
            self.argocd.start()
            self.follower = GitOpsFollower(self.argocd, step=0.2, poll=2.0, hook_runner=hook_runner).start()
        assert self.follower is not None
        self.follower.follow(app, repo, overlay)
        return self.argocd

    def close(self) -> list[str]:
        """Stop everything started, remove the images built; the problems met, as lines."""
        problems: list[str] = []
        if self._aws is not None:
            try:
                self._aws.result(timeout=60)
            except Exception:  # noqa: S110 - the stage already reported it; stop what did start
                pass
        self._pool.shutdown(wait=True)
        for server in reversed(self._started):
            try:
                server.stop()
            except Exception as exc:
                problems.append(f"stopping {type(server).__name__}: {exc}")
        for tool, image_id in self.images:
            out = process.run([tool, "rmi", "-f", image_id], check=False, timeout=120)
            if out.returncode != 0 and "image not known" not in out.stderr:
                problems.append(f"{tool} rmi {image_id[:12]}: {(out.stderr.strip().splitlines() or [''])[-1]}")
        return problems


@contextmanager
def environ(values: Mapping[str, str], drop_prefixes: tuple[str, ...] = ("AWS_",)) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block (botocore and the container tools read the
    process environment), hiding any real ``AWS_*`` settings; everything is restored after."""
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith(drop_prefixes)]:
            del os.environ[key]
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
