"""The checks every generated (or existing, with ``--check``) file passes before anything is written.

- ``bitbucket-pipelines.yml``: Atlassian's schema, then pipekit's lint (:mod:`.lint`);
- ``pipekit.yaml``: pipekit's own config schema (:func:`pipekit.core.config.parse`);
- every kustomization: the Kustomization schema; every overlay renders with kustomize, and the
  rendered Deployment runs the image repository given, with readiness and liveness probes
  (:mod:`.renders`);
- the Argo CD manifests: the Application and AppProject shapes of Argo CD's swagger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.clients.kustomize import Renderer
from pipekit.onboarding import lint, schemas
from pipekit.onboarding.answers import Answers
from pipekit.onboarding.render import Files
from pipekit.onboarding.renders import Renders

FINALIZER = "resources-finalizer.argocd.argoproj.io"


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
    if schema_dir is None:
        report.skipped.append(f"schema checks ({schemas.ENV} is not set)")
    renders = Renders(files, answers, renderer or Renderer())  # kustomize runs while the schemas are checked
    try:
        check_pipeline(files, schema_dir, report)
        check_config(files, report)
        check_kustomizations(files, schema_dir, report)
        check_argocd(files, answers, schema_dir, report)
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
        report.problems.append(f"{name}{f':{mark.line + 1}' if mark else ''}: malformed YAML "
                               f"({getattr(exc, 'problem', None) or exc})")
        return None


def check_pipeline(files: Files, schema_dir: Path | None, report: Report) -> None:
    name = "bitbucket-pipelines.yml"
    text = files.service.get(name)
    if text is None:
        report.problems.append(f"{name}: missing")
        return
    doc, problems = lint.load(text, name)
    if problems:
        report.add("pipeline lint", problems)
        return
    if schema_dir is not None:
        report.add("bitbucket-pipelines.yml schema", schemas.errors(
            schemas.validator(schema_dir / schemas.BITBUCKET), doc, name))
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


def check_kustomizations(files: Files, schema_dir: Path | None, report: Report) -> None:
    problems: list[str] = []
    for path, text in files.gitops.items():
        if not path.endswith("/kustomization.yaml"):
            continue
        docs = _yaml(text, path, report)
        if docs is not None and schema_dir is not None:
            problems += schemas.errors(schemas.validator(schema_dir / schemas.KUSTOMIZATION), docs[0], path)
    if schema_dir is not None:
        report.add("kustomization schema", problems)


def check_argocd(files: Files, answers: Answers, schema_dir: Path | None, report: Report) -> None:
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
                problems.append(f"{path}: expected an argoproj.io/v1alpha1 Application or AppProject, "
                                f"got {doc.get('apiVersion')}/{kind}")
                continue
            body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
            if schema_dir is not None:
                problems += schemas.errors(schemas.argocd_validator(schema_dir / schemas.ARGOCD, kind), body, path)
            problems += _argocd_rules(path, kind, body, path.startswith(children) and kind == "Application")
    report.add("Argo CD manifests", problems)


def _argocd_rules(path: str, kind: str, doc: dict[str, Any], child: bool) -> list[str]:
    """What the swagger cannot say: the fields Argo CD needs, and the child apps' finalizer."""
    spec = doc.get("spec") or {}
    meta = doc.get("metadata") or {}
    out = [] if meta.get("name") else [f"{path}: metadata.name is missing"]
    if kind == "Application":
        source = spec.get("source") or {}
        for key, value in (("spec.project", spec.get("project")), ("spec.source.repoURL", source.get("repoURL")),
                           ("spec.destination", spec.get("destination"))):
            if not value:
                out.append(f"{path}: {key} is missing")
        if child and FINALIZER not in (meta.get("finalizers") or []):
            out.append(f"{path}: a child application needs the {FINALIZER} finalizer")
    else:
        if not spec.get("sourceRepos") or not spec.get("destinations"):
            out.append(f"{path}: an AppProject needs spec.sourceRepos and spec.destinations")
    return out
