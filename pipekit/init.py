"""``pipekit init``: onboard a service, and ``--upgrade`` it when the standard pipeline changes.

Gather the answers (flags, else ``.pipekit/init.yaml``), generate the service's
``bitbucket-pipelines.yml`` and ``pipekit.yaml`` and its GitOps base, overlays, Argo CD apps
and PostSync Job, plan each file against what is there (new, unchanged, still as generated,
edited by hand, merged three ways), check the result (schemas, lint, kustomize renders), and
only then write: into a ``--gitops-dir`` checkout, or commit and push to ``--gitops-repo``
through the update-tag writer. ``--check`` runs the checks on the files as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pipekit import __version__
from pipekit.core.errors import BadInput, CheckFailed
from pipekit.core.options import option, resolve
from pipekit.core.revision import short_revision
from pipekit.core.step import StepContext, step_command
from pipekit.gitops.settings import RenderOptions
from pipekit.onboarding import answers as ans
from pipekit.onboarding import plan, record
from pipekit.onboarding.apply import Prepared

__all__ = ["InitOptions", "InitResult", "main", "options_from", "run", "suite_command"]


def _environments(value: list[str] | None) -> tuple[str, ...] | None:
    return ans.parse_environments(value) if value is not None else None


def _jdk(value: str | None) -> int | None:
    return int(value) if value else None


def suite_command(value: str | None) -> tuple[str, ...] | None:
    """``--suite-command``'s words (shlex rules); an empty or unbalanced command is BadInput."""
    import shlex

    if value is None:
        return None
    try:
        words = tuple(shlex.split(value))
    except ValueError as exc:
        raise BadInput(f"--suite-command {value!r}: {exc}") from None
    if not words:
        raise BadInput(
            "--suite-command is empty: give the command the PostSync Job runs, e.g. 'mvn -q verify'"
        )
    return words


def _read_key(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"--signing-public-key {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})"
        ) from None


@dataclass(kw_only=True)
class InitOptions(RenderOptions):
    service: str | None = option(
        flag="--service", help="Service name, a DNS-1123 label [default: the one in .pipekit/init.yaml]."
    )
    gitops_dir: Path | None = option(
        flag="--gitops-dir", help="A checkout of the GitOps repository to write into (you commit)."
    )
    gitops_repo: str | None = option(
        flag="--gitops-repo",
        help="GitOps repository URL or path: init commits and pushes (Pipekit-* trailers).",
    )
    image_repo: str | None = option(
        flag="--image-repo",
        metavar="URI",
        help="Image repository the Deployment runs, "
        "e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders [default: the service "
        "name].",
    )
    environments: tuple[str, ...] | None = option(
        flag="--environments",
        metavar="LIST",
        kind=list[str] | None,
        multiple=False,
        convert=_environments,
        help="Environments in promotion order, comma-separated [default dev,qa,preprod,prod].",
    )
    argocd_project: str | None = option(
        flag="--argocd-project", help="Argo CD project [default: the service's own AppProject]."
    )
    namespace_template: str | None = option(
        flag="--namespace-template", help='Namespace per environment [default "{service}-{env}"].'
    )
    jdk: int | None = option(
        flag="--jdk",
        kind=Literal["17", "21"],
        convert=_jdk,
        help="JDK of the pinned base image [default 17].",
    )
    branch: str | None = option(
        flag="--branch",
        help="The service's branch its pipeline builds and deploys [default: the current one].",
    )
    gitops_branch: str | None = option(
        flag="--gitops-branch",
        help="The GitOps branch Argo CD follows [default: "
        "the checkout's branch, or the repository's default].",
    )
    gitops_url: str | None = option(
        flag="--gitops-url",
        metavar="URL",
        help="The GitOps repository URL Argo CD reads [default: --gitops-repo, or the checkout's origin].",
    )
    jira_project: str | None = option(
        flag="--jira-project",
        metavar="KEY",
        help="Jira project of qa's Jira gate, e.g. ORD [default: none, and qa is promoted without it].",
    )
    test_results_s3: str | None = option(
        flag="--test-results-s3",
        metavar="S3_URI",
        help="s3://bucket/prefix the "
        "PostSync Job uploads its JUnit and summary to [default: the Job's log "
        "only].",
    )
    requests: str | None = option(
        flag="--requests",
        metavar="cpu=Q,memory=Q",
        help="The service's resource requests [default cpu=250m,memory=512Mi].",
    )
    limits: str | None = option(
        flag="--limits",
        metavar="cpu=Q,memory=Q",
        help="The service's resource limits [default cpu=1,memory=1Gi].",
    )
    read_only_root: bool | None = option(
        flag="--read-only-root/--writable-root",
        help="Run the service with a read-only root filesystem, /tmp writable [default: read-only].",
    )
    suite: tuple[str, ...] | None = option(  # the PostSync Job's suite command [default: a readiness check]
        flag="--suite-command",
        metavar="COMMAND",
        convert=suite_command,
        help="The PostSync Job's test command, split like a shell would (no shell runs it) "
        "[default: curl of the service's readiness endpoint].",
    )
    signing_public_key: str | None = option(  # the key's PEM text
        flag="--signing-public-key",
        metavar="FILE",
        convert=_read_key,
        help="cosign public key: sign in the pipeline, gate promotions and verify in Kyverno on it.",
    )
    pull_request_envs: tuple[str, ...] | None = option(
        flag="--via-pull-request",
        metavar="LIST",
        kind=list[str] | None,
        multiple=False,
        convert=_environments,
        help="Environments a change reaches by pull request in the GitOps repository, comma-separated, e.g. "
        "prod: approved by someone other than its author, then merged and deployed [default: none; '' "
        "clears it].",
    )
    dry_run: bool = option(False, flag="--dry-run", help="Print the full diff; write nothing.")
    force: bool = option(False, flag="--force", help="Overwrite files edited by hand.")
    check: bool = option(False, flag="--check", help="Check the service's files as they are; write nothing.")
    upgrade: bool = option(
        False,
        flag="--upgrade",
        help="Regenerate with this pipekit and carry your edits over (three-way merge).",
    )
    service_dir: Path = Path(".")
    templates: Path | None = None  # library API only: another template set (tests, a fork's standard)
    version: str = __version__  # library API only: the version recorded as generating the files


@dataclass
class InitResult:
    status: str  # written | unchanged | dry-run | checked | hand-edited | conflicts
    service: str
    pipekit_version: str
    template_version: int
    files: dict[str, str] = field(default_factory=dict)  # label -> action
    hand_edited: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    skipped_checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the answers mean that a user may not expect
    gitops_revision: str | None = None
    retries: int = 0  # pushes re-applied after another writer moved the GitOps branch
    diff: str = ""


def run(options: InitOptions, ctx: StepContext) -> InitResult:
    from pipekit.clients.kustomize import Renderer
    from pipekit.onboarding import apply, checks
    from pipekit.onboarding.render import Renderer as Templates

    if options.check and options.upgrade:
        raise BadInput("--check and --upgrade do not go together: check first, then upgrade")
    root = options.service_dir
    recorded = record.load(root)
    if recorded and recorded.pending_conflicts and not options.check:
        left = apply.unresolved(recorded.pending_conflicts, root, options.gitops_dir)
        if left:
            raise CheckFailed(
                f"the upgrade to {recorded.pending_version} left conflict markers in "
                f"{', '.join(left)}: resolve them (and remove the markers), then run again"
            )
    answers = gather(options, recorded, ctx)
    templates = Templates(options.templates, version=options.version)
    generated = templates.render(answers, alert_answers(root, answers))
    renderer = Renderer(options.renderer)
    new = record.Recorded(
        answers,
        options.version,
        templates.template_version,
        options.gitops_repo or (recorded.gitops_repo if recorded and not options.gitops_dir else None),
    )
    was = (recorded.pipekit_version, options.version) if recorded else ("nothing", options.version)
    result = InitResult(
        "unchanged", answers.service, options.version, templates.template_version, notes=notes(answers)
    )

    def prepare(gitops_root: Path) -> Prepared:
        if options.check:
            found = apply.existing(generated, root, gitops_root)
            prepared = Prepared()
            prepared.report = checks.run(found, answers, ctx.env, renderer)
            checks.check_settings(found, answers, ctx.env, remote_of(root, ctx), prepared.report)
            return prepared
        return apply.prepare(
            generated,
            answers,
            root,
            gitops_root,
            upgrade=options.upgrade,
            force=options.force,
            env=ctx.env,
            renderer=renderer,
            versions=was,
        )

    repo = options.gitops_repo or (
        None if options.gitops_dir else (recorded.gitops_repo if recorded else None)
    )
    if repo:
        from pipekit.onboarding import gitops_write

        prepared, result.gitops_revision, result.retries = gitops_write.through_writer(
            ctx, repo, answers, prepare, options, new
        )
    else:
        assert options.gitops_dir is not None
        prepared = prepare(options.gitops_dir)
    decide(options, prepared, result, root, new)
    if (
        repo and result.status == "conflicts"
    ):  # the GitOps side was not pushed: its baselines must not move on
        raise CheckFailed(
            f"merge conflicts in {', '.join(result.conflicts)}; nothing pushed or written (run "
            "--upgrade with --gitops-dir on a checkout of the GitOps repository to resolve them there)",
            result=result,
        )
    if not options.dry_run and not options.check and not repo and result.status in ("written", "conflicts"):
        apply.write_tree(options.gitops_dir or Path("."), [p for p in prepared.plans if p.repo == "gitops"])
    if not options.dry_run and not options.check and result.status in ("written", "conflicts", "unchanged"):
        if result.status == "conflicts":  # the baselines move on; the version is recorded once resolved
            assert recorded is not None
            new = replace(
                recorded,
                answers=answers,
                pending_version=options.version,
                pending_conflicts=tuple(result.conflicts),
            )
        apply.write_service(root, prepared, new)
    report(ctx, result, prepared)
    if result.status in ("hand-edited", "conflicts") or result.problems:
        raise CheckFailed(summary(result), result=result)
    return result


def gather(options: InitOptions, recorded: record.Recorded | None, ctx: StepContext) -> ans.Answers:
    """Flags over the recorded answers over defaults; BadInput naming the first bad one."""
    if options.gitops_dir and options.gitops_repo:
        raise BadInput(
            "--gitops-dir and --gitops-repo: pass one (a checkout to write into, or a repository to push to)"
        )
    if options.upgrade and recorded is None:
        raise BadInput(f"--upgrade: no {record.RECORD} in {options.service_dir}: run pipekit init first")
    if not options.gitops_dir and not options.gitops_repo and not (recorded and recorded.gitops_repo):
        raise BadInput("no GitOps repository: pass --gitops-dir DIR (a checkout) or --gitops-repo URL")
    if options.gitops_dir and not options.gitops_dir.is_dir():
        raise BadInput(
            f"--gitops-dir {options.gitops_dir}: no such directory (clone the GitOps repository first)"
        )
    base = recorded.answers if recorded else None
    service = options.service or (base.service if base else None)
    if not service:
        raise BadInput("no service name: pass --service NAME")
    if base and options.service and options.service != base.service:
        raise BadInput(
            f"--service {options.service}: {record.RECORD} onboarded {base.service}; "
            "a service repository holds one service"
        )
    url = options.gitops_url
    if url is None:  # where init writes: the URL too, unless it is a local path and a URL was recorded
        found = options.gitops_repo or (remote_of(options.gitops_dir, ctx) if options.gitops_dir else None)
        url = found if found and (base is None or ans.is_remote_url(found)) else None
    values: dict[str, Any] = {
        "service": service,
        "image_repo": options.image_repo,
        "environments": options.environments,
        "argocd_project": options.argocd_project,
        "namespace_template": options.namespace_template,
        "jdk": options.jdk,
        "signing_public_key": options.signing_public_key,
        "gitops_url": url,
        "suite": options.suite,
        "jira_project": options.jira_project,
        "test_results_s3": options.test_results_s3,
        "requests": options.requests,
        "limits": options.limits,
        "read_only_root": options.read_only_root,
        "pull_request_envs": options.pull_request_envs,
    }
    given = {k: v for k, v in values.items() if v is not None}
    if base is None:
        start = ans.Answers(service=service, image_repo=service, gitops_url=url or "")
    else:
        start = base
    answers = ans.validate(replace(start, **given))
    branch, gitops_branch = branches_of(options, answers, recorded, ctx)
    return replace(answers, branch=branch, gitops_branch=gitops_branch)


def branches_of(
    options: InitOptions, answers: ans.Answers, recorded: record.Recorded | None, ctx: StepContext
) -> tuple[str, str]:
    """The service's and the GitOps repository's branches: given (checked to exist), recorded, or found."""
    from pipekit.onboarding import branches

    service = branches.service_branch(options.service_dir, options.branch or answers.branch or None, ctx.env)
    given = options.gitops_branch or answers.gitops_branch or None
    if options.gitops_dir:
        gitops = branches.checkout_branch(options.gitops_dir, given, ctx.env)
    elif given and not options.gitops_branch:
        gitops = given  # recorded: the writer's clone checks it is there
    else:
        repo = options.gitops_repo or (recorded.gitops_repo if recorded else None)
        assert repo is not None
        gitops = branches.remote_branch(repo, given, ctx.env)
    return service, gitops


def alert_answers(root: Path, answers: ans.Answers) -> Any:
    """The alert thresholds in the service's pipekit.yaml (the defaults before it has them)."""
    from pipekit.alerting import settings

    return settings.load(
        root / "pipekit.yaml",
        answers.service,
        answers.environments,
        answers.gitops_url,
        answers.gitops_branch or "main",
    )


def remote_of(directory: Path, ctx: StepContext) -> str | None:
    from pipekit.core import process

    # the URL as configured: `git remote get-url` would apply the user's insteadOf rewrites
    proc = process.run(
        ["git", "-C", str(directory), "config", "--get", "remote.origin.url"],
        env=ctx.env,
        timeout=30,
        check=False,
    )
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def decide(
    options: InitOptions, prepared: Prepared, result: InitResult, root: Path, new: record.Recorded
) -> None:
    from pipekit.onboarding import apply

    result.files = {p.label: p.action for p in prepared.plans}
    result.checks, result.skipped_checks = prepared.report.passed, prepared.report.skipped
    result.problems = prepared.report.problems
    result.hand_edited = [p.label for p in prepared.having(plan.HAND_EDITED)]
    result.conflicts = [p.label for p in prepared.having(plan.CONFLICT)]
    changing = [p for p in prepared.plans if p.action in plan.WRITES]
    result.diff = "".join(p.diff() for p in changing)
    if options.check:
        result.status = "checked"
    elif result.hand_edited:
        result.status = "hand-edited"
        result.diff = "".join(p.diff(against_generated=True) for p in prepared.having(plan.HAND_EDITED))
    elif result.problems:
        result.status = "failed-checks"
    elif options.dry_run:
        result.status = "dry-run"
    elif result.conflicts:
        result.status = "conflicts"
    elif (
        changing
        or apply.read(root, str(record.RECORD)) != record.dump(new)
        or apply.baselines_differ(root, prepared)
    ):
        result.status = "written"


def notes(answers: ans.Answers) -> list[str]:
    from pipekit.onboarding import settings

    out = []
    if "qa" in answers.environments and not answers.jira_project:
        out.append(
            "qa is promoted automatically, without the Jira gate: no Jira project was given "
            "(pass --jira-project KEY to gate qa on its Jira version)"
        )
    if answers.pull_request_envs and settings.pull_request_host(answers.gitops_url) is None:
        out.append(
            f"{', '.join(answers.pull_request_envs)} by pull request: the GitOps URL {answers.gitops_url} "
            "names no Bitbucket workspace or project: set gitops.pull_request.workspace (Cloud) or .project "
            "(Data Center, with PIPEKIT_BITBUCKET_SERVER_URL) "
            "and gitops.pull_request.repository in pipekit.yaml"
        )
    return out


def summary(result: InitResult) -> str:
    if result.hand_edited:
        return (
            f"edited by hand, left alone: {', '.join(result.hand_edited)} "
            "(nothing written; keep your edits with --upgrade, or overwrite them with --force)"
        )
    if result.problems:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        return f"{len(result.problems)} check(s) failed: {result.problems[0]}{more}"
    return (
        f"merge conflicts marked in place: {', '.join(result.conflicts)} "
        "(resolve them, then run pipekit init --upgrade again)"
    )


def report(ctx: StepContext, result: InitResult, prepared: Prepared) -> None:
    con = ctx.console
    for note in result.notes:
        con.warn(note)
    for problem in result.problems:
        con.error(problem)
    for skipped in result.skipped_checks:
        con.warn(f"skipped: {skipped}")
    if result.status in ("dry-run", "hand-edited") and result.diff:
        con.print(result.diff.rstrip("\n"))
    if result.status == "checked":
        if not result.problems:
            con.success(f"{result.service}: {len(result.checks)} checks passed ({', '.join(result.checks)})")
        return
    for p in prepared.plans:
        if p.action != plan.UNCHANGED:
            con.debug(f"{p.action}: {p.label}")
    counts: dict[str, int] = {}
    for p in prepared.plans:
        counts[p.action] = counts.get(p.action, 0) + 1
    what = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    if result.status == "unchanged":
        con.success(f"{result.service} already onboarded with these answers: nothing changed ({what})")
    elif result.status == "written":
        where = (
            f"; GitOps commit {short_revision(result.gitops_revision)} pushed"
            if result.gitops_revision
            else ""
        )
        con.success(f"{result.service} onboarded with pipekit {result.pipekit_version} ({what}){where}")
    elif result.status == "dry-run":
        con.info(f"dry run: nothing written ({what})")


def options_from(ctx: StepContext, flags: Mapping[str, Any]) -> InitOptions:
    return resolve(InitOptions, ctx, flags).options


@step_command(
    "init",
    InitOptions,
    help="Onboard a service: pipeline, pipekit.yaml, GitOps base, overlays, Argo CD apps.",
)
def main(ctx: StepContext, flags: dict[str, Any]) -> InitResult:
    return run(options_from(ctx, flags), ctx)


if __name__ == "__main__":
    main()
