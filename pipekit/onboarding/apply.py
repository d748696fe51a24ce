"""Plan every file against a service repository and a GitOps tree, check the result, write it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipekit.clients.kustomize import Renderer
from pipekit.core.errors import BadInput
from pipekit.onboarding import checks, plan, record
from pipekit.onboarding.answers import Answers
from pipekit.onboarding.render import Files


@dataclass
class Prepared:
    plans: list[plan.FilePlan] = field(default_factory=list)
    report: checks.Report = field(default_factory=checks.Report)

    def having(self, *actions: str) -> list[plan.FilePlan]:
        return [p for p in self.plans if p.action in actions]

    @property
    def final(self) -> Files:
        """The files as they will be after the write (what the checks look at)."""
        files = Files()
        for p in self.plans:
            if p.action == plan.REMOVE or (p.action == plan.RELEASE and p.ours is None):
                continue
            (files.service if p.repo == "service" else files.gitops)[p.path] = p.content
        return files


def read(root: Path, path: str) -> str | None:
    target = root / path
    try:
        return target.read_text(encoding="utf-8") if target.is_file() else None
    except UnicodeDecodeError:
        return target.read_bytes().decode("utf-8", "replace")


def managed(generated: Files) -> list[str]:
    """The GitOps folders init manages for this service: where its templates place files
    (``apps/<service>/``, ``argocd/<service>/``), and nothing else."""
    return sorted({"/".join(path.split("/")[:2]) + "/" for path in generated.gitops})


def confine(generated: Files, service_root: Path, gitops_root: Path) -> None:
    """Refuse, before anything is read or written, a GitOps path that leads out of what init manages:
    a symlink out of the clone (update-tag's check), one into another service's folder, or a
    baseline (``.pipekit/init/gitops/...``) outside the managed folders, which would make init
    delete another service's files."""
    from pipekit.gitops import overlay as ov

    folders = managed(generated)
    shown = " and ".join(folders)
    for path in generated.gitops:
        _, rel = ov.inside(gitops_root, path)
        if not any(rel.startswith(f) for f in folders):
            raise BadInput(
                f"{path}: a symlink in the GitOps repository leads out of {shown} (to {rel}); "
                "refusing to follow it",
                hint="replace the link with the folder itself; nothing was written",
            )
    for repo, path, _text in record.baselines(service_root):
        if repo == "gitops" and not any(path.startswith(f) for f in folders):
            raise BadInput(
                f"{record.baseline_path(repo, path)}: a baseline outside what init manages for this "
                f"service ({shown}): copied from another service's repository?",
                hint=f"remove {record.BASELINES / repo}/ entries that are not this service's; nothing "
                "was written",
            )


def prepare(
    generated: Files,
    answers: Answers,
    service_root: Path,
    gitops_root: Path,
    *,
    upgrade: bool,
    force: bool,
    env: Mapping[str, str],
    renderer: Renderer,
    versions: tuple[str, str],
) -> Prepared:
    confine(generated, service_root, gitops_root)
    prepared = Prepared()
    for repo, path, text in generated.items():
        root = service_root if repo == "service" else gitops_root
        ours, base = read(root, path), record.read_baseline(service_root, repo, path)
        if repo == "gitops":  # decided and merged with the deployed image in; the baseline stays init's own
            decided = plan.decide(
                repo,
                path,
                ours,
                base and with_deployed_image(path, ours, base, answers),
                with_deployed_image(path, ours, text, answers),
                upgrade=upgrade,
                force=force,
                env=env,
                versions=versions,
            )
            decided.generated = text
        else:
            decided = plan.decide(
                repo, path, ours, base, text, upgrade=upgrade, force=force, env=env, versions=versions
            )
        prepared.plans.append(decided)
    wanted = {(repo, path) for repo, path, _text in generated.items()}
    for repo, path, base in record.baselines(service_root):
        if (repo, path) not in wanted:
            root = service_root if repo == "service" else gitops_root
            prepared.plans.append(
                plan.decide_gone(repo, path, read(root, path), base, upgrade=upgrade, force=force)
            )
    if not prepared.having(plan.CONFLICT):  # conflict markers are not YAML: nothing to check until resolved
        prepared.report = checks.run(prepared.final, answers, env, renderer)
    return prepared


def with_deployed_image(path: str, ours: str | None, theirs: str, answers: Answers) -> str:
    """An overlay's image entry is the pipeline's (update-tag, promote), not init's: once an image has
    reached the environment, init plans the overlay (generated and baseline alike) with that image in
    it, and so without the placeholder's no-pods ``replicas`` block. A deployed overlay is then
    unchanged by init, and an upgrade merges only init's own changes into it."""
    from pipekit.core.errors import PipekitError
    from pipekit.gitops import kustomization
    from pipekit.gitops.kustomization import PLACEHOLDER_TAG
    from pipekit.gitops.refs import ImageRef

    if (
        ours is None
        or not path.startswith(f"apps/{answers.service}/overlays/")
        or not path.endswith("/kustomization.yaml")
    ):
        return theirs
    try:
        entry = kustomization.find(ours, path, answers.image_repo)
        if entry is None or (entry.new_tag in (None, PLACEHOLDER_TAG) and not entry.digest):
            return theirs
        want = ImageRef(
            answers.image_repo,
            new_name=entry.new_name,
            new_tag=entry.new_tag,
            digest=entry.digest,
            build=entry.build,
        )
        text, _old = kustomization.set_image(theirs, path, want)
        return kustomization.drop_placeholder(text, path)
    except PipekitError:
        return theirs  # a broken overlay: planned as it is, and the checks say what is wrong


def existing(generated: Files, service_root: Path, gitops_root: Path) -> Files:
    """The files a service has now, at the paths init generates (for ``--check``)."""
    confine(generated, service_root, gitops_root)
    files = Files()
    for repo, path, _text in generated.items():
        text = read(service_root if repo == "service" else gitops_root, path)
        if text is not None:
            (files.service if repo == "service" else files.gitops)[path] = text
    return files


def write_tree(root: Path, plans: list[plan.FilePlan]) -> list[str]:
    written = []
    for p in plans:
        if p.action == plan.REMOVE:
            (root / p.path).unlink(missing_ok=True)
            prune_empty(root, (root / p.path).parent)
            written.append(p.path)
        elif p.action in plan.WRITES:
            target = root / p.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(p.content, encoding="utf-8")
            written.append(p.path)
    return written


def prune_empty(root: Path, directory: Path) -> None:
    """Remove ``directory`` and its parents up to ``root`` while they are empty."""
    while (
        directory != root
        and root in directory.parents
        and directory.is_dir()
        and not any(directory.iterdir())
    ):
        directory.rmdir()
        directory = directory.parent


def unresolved(labels: tuple[str, ...], service_root: Path, gitops_root: Path | None) -> list[str]:
    """The files of a pending upgrade that still hold conflict markers."""
    left = []
    for label in labels:
        repo, path = (
            ("gitops", label[len("gitops:") :]) if label.startswith("gitops:") else ("service", label)
        )
        root = gitops_root if repo == "gitops" else service_root
        text = read(root, path) if root is not None else None
        if text is not None and any(line.startswith(("<<<<<<< ", ">>>>>>> ")) for line in text.splitlines()):
            left.append(label)
    return left


def baselines_differ(service_root: Path, prepared: Prepared) -> bool:
    for p in prepared.plans:
        current = read(service_root, str(record.baseline_path(p.repo, p.path)))
        if current != (p.generated if p.generated_now else None):
            return True
    return False


def write_service(service_root: Path, prepared: Prepared, recorded: record.Recorded) -> None:
    """The service's files, the new baselines and the record."""
    write_tree(service_root, [p for p in prepared.plans if p.repo == "service"])
    for p in prepared.plans:
        target = service_root / record.baseline_path(p.repo, p.path)
        if not p.generated_now:
            target.unlink(missing_ok=True)
            prune_empty(service_root / record.BASELINES, target.parent)
            continue
        if read(service_root, str(record.baseline_path(p.repo, p.path))) != p.generated:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(p.generated, encoding="utf-8")
    text = record.dump(recorded)
    if read(service_root, str(record.RECORD)) != text:
        (service_root / record.RECORD).parent.mkdir(parents=True, exist_ok=True)
        (service_root / record.RECORD).write_text(text, encoding="utf-8")
