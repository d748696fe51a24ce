"""The sample service onboarded by the real ``pipekit init``, as a team would onboard theirs.

The embedded sample (``sample/``: one class, two JUnit 5 tests, a ``FROM scratch`` Dockerfile, the
PostSync Job's API tests) becomes a git repository on branch ``master`` with, under ``rehearsal/``,
what the rehearsal substitutes and the pipeline's clones must hold: semgrep's local rules (its
default ruleset is fetched from the network) and the Trivy report gated instead of running trivy
(:data:`SUBSTITUTIONS`). The GitOps repository starts with a README on ``master``, served by the
local git host. ``init`` runs through its library API in the sample's checkout with a throwaway
cosign public key (``--signing-public-key``), ``--jira-project``, and the sample's API tests as
the PostSync suite; its files are committed there as a team would commit them, and its GitOps
commit is pushed over HTTP with the host's token.

``--config FILE`` rehearses the user's own settings: their ``pipekit.yaml`` replaces init's in the
sample, except the keys that point at the sample or the outside world (:data:`REPLACED`), which
stay init's (so they point at the stand-ins); the environments are onboarded as the file names them.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipekit.core.errors import BadInput

if TYPE_CHECKING:
    from pipekit.core.console import Console
    from pipekit.init import InitResult
    from pipekit.rehearsal.world import World

SAMPLE = Path(__file__).with_name("sample")
RULES = Path(__file__).with_name("semgrep-rules.yaml")
SCAN_REPORT = Path(__file__).with_name("scan-report.json")
SERVICE = "demo-service"
BRANCH = "master"  # not main: init must follow the service's branch
ENVIRONMENTS = ("dev", "qa", "preprod", "prod")  # as pipekit init onboards a service by default
DEFAULT_PULL_REQUEST_ENVS = (
    "prod",
)  # init --via-pull-request: prod's change is reviewed in the GitOps repository
IMAGE_REPO = (
    f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{SERVICE}"  # moto's account, the rehearsal's region
)
JIRA_PROJECT = "DEMO"
SUITE = ("python3", "api-tests/run.py", "--junit-xml", f"/reports/{SERVICE}-api.xml")
SEMGREP_RULES, TRIVY_REPORT = "rehearsal/semgrep-rules.yaml", "rehearsal/trivy-report.json"
# what cannot run here and is replaced by a documented setting: (what, instead, the variable)
SUBSTITUTIONS = (
    (
        "semgrep's registry ruleset p/java (fetched at scan time)",
        f"the local rules {SEMGREP_RULES}",
        "PIPEKIT_SEMGREP_CONFIG",
    ),
    (
        "trivy and its vulnerability database (not in the local image, downloaded at scan time)",
        f"the bundled Trivy report {TRIVY_REPORT}",
        "PIPEKIT_SCAN_SUBSTITUTE",
    ),
    (
        "Maven Central",
        "this machine's ~/.m2/repository, seeded as the maven-repo cache",
        "PIPEKIT_MAVEN_OFFLINE",
    ),
)
# keys of a --config file that point at the sample or the outside world: init's values are kept
REPLACED = (
    "service",
    "build",
    "ecr",
    "gitops",
    "argocd",
    "signing",
    "scan.reports",
    "scan.run",
    "scan.sarif_out",
    "scan.junit_out",
    "jira.base_url",
    "jira.cloud_id",
    "environments.*.overlay",
    "environments.*.path",
)
IDENTITY = ("-c", "user.name=Dev Eloper", "-c", "user.email=dev@pipekit.local", "-c", "commit.gpgsign=false")
CRITICAL = {
    "Target": "pom.xml",
    "Class": "lang-pkgs",
    "Type": "pom",
    "Vulnerabilities": [
        {
            "VulnerabilityID": "CVE-2021-44228",
            "PkgName": "org.apache.logging.log4j:log4j-core",
            "PkgIdentifier": {"PURL": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
            "InstalledVersion": "2.14.1",
            "FixedVersion": "2.15.0",
            "Severity": "CRITICAL",
            "Title": "log4j-core: Remote code execution in Log4j 2.x (rehearsed by --fail-at scan)",
            "CweIDs": ["CWE-502"],
        }
    ],
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


@dataclass
class Onboarded:
    repo: Path  # the sample's checkout
    gitops: Path  # the bare GitOps repository
    init: InitResult
    settings: dict[str, Any]  # the committed pipekit.yaml
    replaced: list[str] = field(default_factory=list)  # keys of --config that stayed init's
    commit: str = ""
    pull_request_envs: tuple[str, ...] = ()  # the environments onboarded to go by pull request


def git(repo: Path, *args: str, env: Mapping[str, str]) -> str:
    from pipekit.clients.git import Git, isolated_env

    return Git(repo, isolated_env(env)).output(*IDENTITY, *args)


def sample_repo(workdir: Path, env: Mapping[str, str], *, fail_at: str | None) -> Path:
    """The sample in ``workdir/demo-service``, with what the rehearsal substitutes,
    one commit on ``master``."""
    repo = workdir / SERVICE
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("target", "__pycache__"))
    (repo / ".gitignore").write_text("target/\n", encoding="utf-8")
    (repo / "rehearsal").mkdir()
    shutil.copyfile(RULES, repo / SEMGREP_RULES)
    report = json.loads(SCAN_REPORT.read_text(encoding="utf-8"))
    if fail_at == "scan":  # the SCA scan finds a critical vulnerability: the security gate blocks
        report.setdefault("Results", []).append(CRITICAL)
    (repo / TRIVY_REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if fail_at == "tests":  # a change whose test fails: the unit tests fail
        (repo / "src" / "test" / "java" / "RehearsalFailAtTest.java").write_text(
            FAILING_TEST, encoding="utf-8"
        )
    git(repo, "init", "-q", "-b", BRANCH, env=env)
    git(repo, "add", ".", env=env)
    # the folder's name makes the commit (so the image's first tag) unique per rehearsal
    # DEMO-1 is the Jira stand-in's issue of the version built (the release notes name it)
    git(
        repo,
        "commit",
        "-q",
        "-m",
        f"{JIRA_PROJECT}-1 Add the demo service",
        "-m",
        f"Embedded sample for pipekit rehearse ({workdir.name}).",
        env=env,
    )
    return repo


def onboard(
    workdir: Path,
    world: World,
    env: Mapping[str, str],
    console: Console,
    *,
    public_key: str,
    fail_at: str | None = None,
    config: Path | None = None,
    environments: Sequence[str] = ENVIRONMENTS,
) -> Onboarded:
    """The sample's checkout and the GitOps repository, onboarded by ``pipekit init`` and committed.

    The environments that go by pull request (:func:`by_pull_request`) are onboarded with ``init
    --via-pull-request``; the GitOps URL (the local git host's) names no Bitbucket workspace, so
    ``gitops.pull_request`` in ``pipekit.yaml`` names the stand-in's (``review.PULL_REQUEST_REPO``), as a
    team's does when its GitOps URL does not say it."""
    from pipekit import init
    from pipekit.core.console import Console as ConsoleType
    from pipekit.core.step import StepContext

    user = read_settings(config) if config is not None else None
    by_pr = by_pull_request(user, environments)
    repo = sample_repo(workdir, env, fail_at=fail_at)
    url = world.gitops_repo("gitops", BRANCH)
    assert world.git is not None
    ctx = StepContext.create(
        env={**env, "PIPEKIT_GITOPS_TOKEN": world.git.token},
        run_record=workdir / "init.json",
        config_path=None,
        debug=console.debug_enabled,
        cwd=repo,
    )
    ctx.console = ConsoleType(stream=io.StringIO(), debug=console.debug_enabled)
    # without kubectl, init checks everything but the renders
    renderer = init.InitOptions.renderer if shutil.which("kubectl", path=env.get("PATH")) else "none"
    result = init.run(
        init.InitOptions(
            service=SERVICE,
            gitops_repo=url,
            image_repo=IMAGE_REPO,
            environments=tuple(environments),
            suite=SUITE,
            service_dir=repo,
            renderer=renderer,
            jira_project=JIRA_PROJECT,
            signing_public_key=public_key,
            pull_request_envs=by_pr,
        ),
        ctx,
    )
    (workdir / "init.json").unlink(missing_ok=True)
    from pipekit.core import yamlload

    if by_pr:  # where the GitOps repository's pull requests are: the stand-in's workspace
        path = repo / "pipekit.yaml"
        path.write_text(with_gitops_pull_request(path.read_text(encoding="utf-8")), encoding="utf-8")
    settings = dict(yamlload.load((repo / "pipekit.yaml").read_text(encoding="utf-8"), "pipekit.yaml") or {})
    replaced: list[str] = []
    if user is not None:
        settings, replaced = merge(user, settings)
        write_settings(settings, repo / "pipekit.yaml", config or Path("pipekit.yaml"), replaced)
    git(repo, "add", ".", env=env)
    git(repo, "commit", "-q", "-m", f"Onboard {SERVICE} with pipekit init {result.pipekit_version}", env=env)
    commit = git(repo, "rev-parse", "HEAD", env=env)
    return Onboarded(repo, world.repos / "gitops.git", result, settings, replaced, commit, by_pr)


def by_pull_request(user: Mapping[str, Any] | None, environments: Sequence[str]) -> tuple[str, ...]:
    """The environments that go by pull request: prod (init's default rules), or those a ``--config``
    file says ``via: pull-request`` for."""
    if user is None:
        return tuple(e for e in environments if e in DEFAULT_PULL_REQUEST_ENVS)
    envs = user.get("environments") or {}
    return tuple(
        e for e in environments if isinstance(envs.get(e), Mapping) and envs[e].get("via") == "pull-request"
    )


def with_gitops_pull_request(text: str) -> str:
    """init's ``pipekit.yaml`` with ``gitops.pull_request`` (the stand-in's workspace and repository) at the
    end of its ``gitops`` section, its comments kept."""
    from pipekit.rehearsal.review import PULL_REQUEST_REPO

    workspace, repository = PULL_REQUEST_REPO
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip() == "gitops:")
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "\n", "")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    block = [
        "  # the GitOps repository's pull requests (pipekit rehearse: its Bitbucket stand-in's workspace)\n",
        "  pull_request:\n",
        f"    workspace: {workspace}\n",
        f"    repository: {repository}\n",
    ]
    return "".join(lines[:end] + block + lines[end:])


def summary(result: InitResult) -> str:
    counts: dict[str, int] = {}
    for action in result.files.values():
        counts[action] = counts.get(action, 0) + 1
    skipped = f"; skipped: {', '.join(result.skipped_checks)}" if result.skipped_checks else ""
    return (
        f"pipekit init {result.pipekit_version}: {len(result.files)} files "
        f"({', '.join(f'{n} {a}' for a, n in sorted(counts.items()))}), GitOps commit "
        f"{(result.gitops_revision or '')[:12]}; checks passed: {', '.join(result.checks) or 'none'}{skipped}"
    )


# -- --config ----------------------------------------------------------------------------------
def read_settings(path: Path) -> dict[str, Any]:
    """A ``pipekit.yaml`` as data, checked as every step checks it (exit 2 naming file and line)."""
    from pipekit.core import config, yamlload

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--config {path}: cannot be read: {exc}") from None
    config.parse(text, path)
    return dict(yamlload.load(text, str(path)) or {})


def environments_of(settings: Mapping[str, Any], where: str) -> tuple[str, ...] | None:
    """The file's environments in promotion order (None: it names none), each one init can onboard."""
    from pipekit.onboarding.answers import check_environments

    envs = settings.get("environments")
    if envs is None:
        return None
    if not isinstance(envs, Mapping):
        raise BadInput(
            f"--config {where}: environments must map each environment to its settings, in promotion order"
        )
    names = tuple(str(e) for e in envs)
    check_environments(names, f"--config {where}: environments")  # the same check as pipekit init's
    return names


def merge(user: Mapping[str, Any], generated: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """init's settings under the user's, the user's :data:`REPLACED` keys dropped; (merged, dropped keys)."""
    kept = copy.deepcopy(dict(user))
    dropped = [key for pattern in REPLACED for key in _drop(kept, pattern.split("."), [])]
    return _deep_merge(generated, kept), sorted(set(dropped))


def write_settings(settings: Mapping[str, Any], path: Path, source: Path, replaced: list[str]) -> None:
    import yaml

    from pipekit.core import config

    head = [
        f"# pipekit rehearse: the settings of {source.name}, with init's wherever they point at the "
        "sample or the outside world."
    ]
    if replaced:
        head.append(f"# kept init's for: {', '.join(replaced)}")
    text = "\n".join(head) + "\n" + yaml.safe_dump(dict(settings), sort_keys=False, default_flow_style=False)
    config.parse(text, path)
    path.write_text(text, encoding="utf-8")


def _drop(data: dict[str, Any], parts: list[str], at: list[str]) -> list[str]:
    head, rest = parts[0], parts[1:]
    names = list(data) if head == "*" else [head] if head in data else []
    dropped = []
    for name in names:
        if rest:
            if isinstance(data[name], dict):
                dropped += _drop(data[name], rest, [*at, name])
        else:
            del data[name]
            dropped.append(".".join([*at, name]))
    return dropped


def _deep_merge(under: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(under))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
