"""The checks every generated (or existing, with ``--check``) file passes before anything is written.

- ``bitbucket-pipelines.yml``: Atlassian's schema, then pipekit's lint (:mod:`.lint`);
- ``pipekit.yaml``: pipekit's own config schema (:func:`pipekit.core.config.parse`);
- every kustomization: the Kustomization schema; every overlay renders with kustomize, and the
  rendered Deployment runs the image repository given, with readiness and liveness probes
  (:mod:`.renders`);
- the rendered pod templates: the restricted Pod Security level, requests and limits (:mod:`.renders`);
- the Argo CD manifests: the Application and AppProject shapes of Argo CD's swagger, and a
  ``repoURL`` Argo CD can reach;
- the deploy's clocks: ``argocd.timeout`` outlasts the rollout and then the PostSync Job.

The schemas ship with pipekit (:mod:`.schemas`): no check is skipped for want of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.clients.kustomize import Renderer
from pipekit.core.errors import BadInput
from pipekit.onboarding import lint, schemas
from pipekit.onboarding.answers import Answers, check_remote_url
from pipekit.onboarding.render import Files
from pipekit.onboarding.renders import Renders

FINALIZER = "resources-finalizer.argocd.argoproj.io"
WAIT_DEFAULT_S = 600  # wait-for-argocd's default timeout
SYNC_MARGIN_S = 60


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, problems: list[str]) -> None:
        self.problems += problems
        if not problems:
            self.passed.append(name)


def run(files: Files, answers: Answers, env: Mapping[str, str], renderer: Renderer | None = None) -> Report:
    report = Report()
    schema_dir = schemas.directory(env)
    renders = Renders(files, answers, renderer or Renderer())  # kustomize runs while the schemas are checked
    try:
        check_pipeline(files, schema_dir, report)
        check_config(files, report)
        check_kustomizations(files, schema_dir, report)
        check_argocd(files, answers, schema_dir, report)
        check_clocks(files, answers, report)
    finally:
        renders.finish(report)
    return report


def _yaml(text: str, name: str, report: Report, many: bool = False) -> list[Any] | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return list(yaml.load_all(text, Loader=loader)) if many else [yaml.load(text, Loader=loader)]  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        report.problems.append(
            f"{name}{f':{mark.line + 1}' if mark else ''}: malformed YAML "
            f"({getattr(exc, 'problem', None) or exc})"
        )
        return None


def check_pipeline(files: Files, schema_dir: Path, report: Report) -> None:
    name = "bitbucket-pipelines.yml"
    text = files.service.get(name)
    if text is None:
        report.problems.append(f"{name}: missing")
        return
    doc, problems = lint.load(text, name)
    if problems:
        report.add("pipeline lint", problems)
        return
    report.add(
        "bitbucket-pipelines.yml schema",
        schemas.errors(schemas.validator(schemas.path_of(schema_dir, schemas.BITBUCKET)), doc, name),
    )
    report.add("pipeline lint", lint.lint(doc, name))


def check_config(files: Files, report: Report) -> None:
    from pipekit.core.config import parse
    from pipekit.core.errors import PipekitError

    text = files.service.get("pipekit.yaml")
    if text is None:
        report.problems.append("pipekit.yaml: missing")
        return
    try:
        parse(text, Path("pipekit.yaml"))
    except PipekitError as exc:
        report.problems.append(str(exc))
        return
    report.passed.append("pipekit.yaml schema")


def check_kustomizations(files: Files, schema_dir: Path, report: Report) -> None:
    problems: list[str] = []
    validator = schemas.validator(schemas.path_of(schema_dir, schemas.KUSTOMIZATION))
    for path, text in files.gitops.items():
        if not path.endswith("/kustomization.yaml"):
            continue
        docs = _yaml(text, path, report)
        if docs is not None:
            problems += schemas.errors(validator, docs[0], path)
    report.add("kustomization schema", problems)


def check_argocd(files: Files, answers: Answers, schema_dir: Path, report: Report) -> None:
    problems: list[str] = []
    children = f"argocd/{answers.service}/apps/"
    for path, text in files.gitops.items():
        if not path.startswith("argocd/"):
            continue
        for doc in _yaml(text, path, report, many=True) or []:
            if not isinstance(doc, dict):
                problems.append(f"{path}: not a Kubernetes object")
                continue
            kind = doc.get("kind")
            if doc.get("apiVersion") != "argoproj.io/v1alpha1" or kind not in schemas.ARGOCD_SHAPES:
                problems.append(
                    f"{path}: expected an argoproj.io/v1alpha1 Application or AppProject, "
                    f"got {doc.get('apiVersion')}/{kind}"
                )
                continue
            body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
            problems += schemas.errors(schemas.argocd_validator(schema_dir, kind), body, path)
            problems += _argocd_rules(path, kind, body, path.startswith(children) and kind == "Application")
    report.add("Argo CD manifests", problems)


def _argocd_rules(path: str, kind: str, doc: dict[str, Any], child: bool) -> list[str]:
    """What the swagger cannot say: the fields Argo CD needs, and the child apps' finalizer."""
    spec = doc.get("spec") or {}
    meta = doc.get("metadata") or {}
    out = [] if meta.get("name") else [f"{path}: metadata.name is missing"]
    if kind == "Application":
        source = spec.get("source") or {}
        for key, value in (
            ("spec.project", spec.get("project")),
            ("spec.source.repoURL", source.get("repoURL")),
            ("spec.destination", spec.get("destination")),
        ):
            if not value:
                out.append(f"{path}: {key} is missing")
        if child and FINALIZER not in (meta.get("finalizers") or []):
            out.append(f"{path}: a child application needs the {FINALIZER} finalizer")
        urls = [("spec.source.repoURL", source.get("repoURL"))] if source.get("repoURL") else []
    else:
        if not spec.get("sourceRepos") or not spec.get("destinations"):
            out.append(f"{path}: an AppProject needs spec.sourceRepos and spec.destinations")
        urls = [("spec.sourceRepos", url) for url in spec.get("sourceRepos") or [] if url != "*"]
    for key, url in urls:
        try:
            check_remote_url(str(url))
        except BadInput:
            out.append(
                f"{path}: {key} {url!r} is not a URL Argo CD can reach (a local path or file:// URL); "
                "use the repository's https:// or ssh URL"
            )
    return out


def check_clocks(files: Files, answers: Answers, report: Report) -> None:
    """wait-for-argocd must outlast a normal deploy: the rollout (progressDeadlineSeconds), then the
    PostSync Job (activeDeadlineSeconds), and a minute for the sync itself."""
    base = f"apps/{answers.service}/base"
    quiet = Report()  # malformed YAML is reported by the checks of those files
    config = (_yaml(files.service.get("pipekit.yaml", ""), "pipekit.yaml", quiet) or [None])[0]
    argocd = config.get("argocd") if isinstance(config, dict) else None
    timeout = argocd.get("timeout", WAIT_DEFAULT_S) if isinstance(argocd, dict) else WAIT_DEFAULT_S
    progress, job = 600, 0  # Kubernetes' default progressDeadlineSeconds; no Job, no wait for one
    for doc in (
        _yaml(files.gitops.get(f"{base}/deployment.yaml", ""), f"{base}/deployment.yaml", quiet, many=True)
        or []
    ):
        if isinstance(doc, dict) and doc.get("kind") == "Deployment":
            progress = (doc.get("spec") or {}).get("progressDeadlineSeconds", progress)
    for doc in (
        _yaml(
            files.gitops.get(f"{base}/post-sync-test.yaml", ""),
            f"{base}/post-sync-test.yaml",
            quiet,
            many=True,
        )
        or []
    ):
        if isinstance(doc, dict) and doc.get("kind") == "Job":
            job = max(job, (doc.get("spec") or {}).get("activeDeadlineSeconds") or 0)
    if not all(isinstance(n, (int, float)) for n in (timeout, progress, job)):
        return  # a malformed value: the schemas say so
    need = progress + job + SYNC_MARGIN_S
    report.add(
        "deploy timeouts",
        []
        if timeout >= need
        else [
            f"pipekit.yaml: argocd.timeout {timeout:g} s is shorter than a normal deploy may take: the "
            f"rollout (progressDeadlineSeconds {progress}) + the PostSync Job (activeDeadlineSeconds {job}) "
            f"+ {SYNC_MARGIN_S} s; wait-for-argocd would give up on a Job still running: "
            f"set it to {need} or more"
        ],
    )


def check_settings(
    files: Files, answers: Answers, env: Mapping[str, str], origin: str | None, report: Report
) -> None:
    """The repository's Pipelines settings hold what the pipeline needs (read through the Bitbucket API)."""
    from pipekit.clients.bitbucket import PipelinesSettings
    from pipekit.core.errors import PipekitError
    from pipekit.onboarding import settings

    where = settings.repository_of(origin, env)
    if where is None or not env.get("PIPEKIT_BITBUCKET_TOKEN"):
        why = "no PIPEKIT_BITBUCKET_TOKEN" if where else "the service's origin is not a Bitbucket repository"
        report.skipped.append(f"repository settings ({why}; docs/init.md lists what to set)")
        return
    config = (_yaml(files.service.get("pipekit.yaml", ""), "pipekit.yaml", Report()) or [None])[0]
    try:
        found = PipelinesSettings.from_env(env, *where).read()
    except PipekitError as exc:
        report.skipped.append(f"repository settings (cannot read them: {exc})")
        return
    report.add(
        f"repository settings ({where[0]}/{where[1]})",
        settings.missing(answers, config if isinstance(config, dict) else {}, found),
    )
