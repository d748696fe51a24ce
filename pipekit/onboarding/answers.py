"""What the user told ``pipekit init``, validated before anything is generated."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from pipekit.core.errors import BadInput
from pipekit.images.tags import NAME_RE

# Promotion order and each environment's rule: dev deploys on every build of the service's branch,
# qa is promoted automatically behind the Jira gate (without a Jira project: automatically, ungated),
# preprod and prod are manual Bitbucket deployments.
KNOWN_ENVIRONMENTS = ("dev", "qa", "preprod", "prod")
RULES = {"dev": "auto", "qa": "gated", "preprod": "manual", "prod": "manual"}
GATES = {"qa": ("jira",)}
JDKS = (17, 21)
DNS1123_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TEMPLATE_FIELDS = {"service", "env"}
JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{1,9}")  # Jira's default project key format
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
RESOURCE_KEYS = ("cpu", "memory")
QUANTITY = re.compile(r"(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")  # a Kubernetes quantity
# A URL Argo CD (and a pipeline step) can clone: http(s), ssh, git, or scp-like user@host:path.
_REMOTE_URL = re.compile(r"(https?|ssh|git(\+ssh)?)://[^/\s]+/\S*|[\w.-]+@[\w.-]+:\S+")


@dataclass(frozen=True)
class Answers:
    service: str
    image_repo: str
    gitops_url: str  # the GitOps repository URL Argo CD reads (Application/AppProject repoURL)
    environments: tuple[str, ...] = KNOWN_ENVIRONMENTS
    argocd_project: str = ""  # default: the service name
    namespace_template: str = "{service}-{env}"
    jdk: int = 17
    branch: str = (
        ""  # the service repository's branch the pipeline builds and deploys from ("": found by init)
    )
    suite: tuple[str, ...] = field(default=())  # the PostSync suite command (default: a health check)
    signing_public_key: str = (
        ""  # PEM of --signing-public-key: sign in the pipeline, verify in promote and Kyverno
    )
    gitops_branch: str = (
        ""  # the GitOps repository's branch Argo CD follows and the pipeline writes ("": found)
    )
    jira_project: str = ""  # qa's Jira gate checks versions in this project ("" = qa not gated by Jira)
    test_results_s3: str = ""  # s3://bucket/prefix the PostSync Job uploads its JUnit to ("" = Job log only)
    requests: str = "cpu=250m,memory=512Mi"  # the service container's resource requests
    limits: str = "cpu=1,memory=1Gi"  # ... and limits
    read_only_root: bool = True  # the service runs with a read-only root filesystem (/tmp writable)
    pull_request_envs: tuple[
        str, ...
    ] = ()  # environments a change reaches by pull request (via: pull-request)

    @property
    def project(self) -> str:
        return self.argocd_project or self.service

    @property
    def own_project(self) -> bool:
        """The AppProject is the service's own (written by init) unless a shared one is named."""
        return self.project == self.service

    def namespace(self, env: str) -> str:
        return self.namespace_template.replace("{service}", self.service).replace("{env}", env)

    def rule(self, env: str) -> str:
        """The environment's promotion rule: its own (the first environment too); qa without a Jira
        project is promoted automatically."""
        rule = RULES[env]
        return "auto" if rule == "gated" and not self.gates(env) else rule

    def gates(self, env: str) -> tuple[str, ...]:
        """The environment's gates: Jira where a project is named, the signature where a key is."""
        signature = ("signature",) if self.signing_public_key and RULES[env] == "gated" else ()
        return (*(g for g in GATES.get(env, ()) if g != "jira" or self.jira_project), *signature)

    @property
    def region(self) -> str:
        """The AWS region of an ECR image repository ('' for another registry)."""
        found = re.fullmatch(
            r"\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?", self.registry
        )
        return found.group(1) if found else ""

    @property
    def registry(self) -> str:
        """The registry host of the image repository ('' for a Docker Hub style name)."""
        head, _, rest = self.image_repo.partition("/")
        return head if rest and ("." in head or ":" in head or head == "localhost") else ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["environments"] = list(self.environments)
        data["suite"] = list(self.suite)
        data["pull_request_envs"] = list(self.pull_request_envs)
        if (
            not self.pull_request_envs
        ):  # recorded only when given: a service onboarded before keeps its record
            del data["pull_request_envs"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Answers:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(
                f"{where}: unknown answers {unknown} (written by a newer pipekit? upgrade pipekit)"
            )
        check_schema(data, where)
        values = dict(data)
        if "gitops_branch" not in values and "branch" in values:
            # recorded by template 1, whose `branch` was a hard-coded "main" for both repositories:
            # init finds both branches again
            values["gitops_branch"] = values["branch"] = ""
        for key in ("environments", "suite", "pull_request_envs"):
            if key in values:
                values[key] = tuple(str(v) for v in values[key] or ())
        if "jdk" in values:
            values["jdk"] = int(values["jdk"])
        try:
            return validate(cls(**values))
        except TypeError as exc:
            raise BadInput(f"{where}: the recorded answers are incomplete: {exc}") from None


# The shape of ``.pipekit/init.yaml``'s answers (what :meth:`Answers.to_dict` writes); values are
# then checked by :func:`validate` as flags are.
SCHEMA = {
    "type": "object",
    "properties": {
        "service": {"type": "string"},
        "image_repo": {"type": "string"},
        "gitops_url": {"type": "string"},
        "environments": {"type": "array", "items": {"type": "string"}},
        "argocd_project": {"type": "string"},
        "namespace_template": {"type": "string"},
        "jdk": {"type": "integer", "enum": list(JDKS)},
        "branch": {"type": "string", "pattern": r"^[^\s~^:?*\[\\]*\Z"},  # a branch name: no space, no newline
        "gitops_branch": {"type": "string", "pattern": r"^[^\s~^:?*\[\\]*\Z"},
        "suite": {"type": "array", "items": {"type": "string"}},
        "signing_public_key": {"type": "string"},
        "jira_project": {"type": "string"},
        "test_results_s3": {"type": "string"},
        "requests": {"type": "string"},
        "limits": {"type": "string"},
        "read_only_root": {"type": "boolean"},
        "pull_request_envs": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["service", "image_repo", "gitops_url"],
}


def check_schema(data: dict[str, Any], where: str) -> None:
    """BadInput naming the first answer whose type or form is not what init writes."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCHEMA)
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        field = ".".join(["answers", *map(str, error.absolute_path)])
        raise BadInput(
            f"{where}: {field}: {error.message}",
            hint="fix it, or run pipekit init again with the flags to rewrite the answers",
        )


def parse_environments(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(e.strip() for e in items if e.strip())


def check_environments(envs: tuple[str, ...], where: str = "--environments") -> None:
    """Environments init can onboard: known names, each once, in promotion order;
    BadInput naming ``where``."""
    if not envs:
        raise BadInput(f"{where} is empty: name at least one of " + ",".join(KNOWN_ENVIRONMENTS))
    for env in envs:
        if env not in KNOWN_ENVIRONMENTS:
            raise BadInput(f"{where}: unknown environment {env!r} (known: {','.join(KNOWN_ENVIRONMENTS)})")
    if len(set(envs)) != len(envs):
        raise BadInput(f"{where} {','.join(envs)!r} names an environment twice")
    if list(envs) != sorted(envs, key=KNOWN_ENVIRONMENTS.index):
        raise BadInput(
            f"{where} {','.join(envs)!r} must follow the promotion order " + " -> ".join(KNOWN_ENVIRONMENTS)
        )


def validate(answers: Answers) -> Answers:
    """The answers as given, or BadInput naming the first bad one."""
    if not DNS1123_LABEL.fullmatch(answers.service):
        raise BadInput(
            f"--service {answers.service!r} is not a DNS-1123 label: lower-case letters, digits "
            "and '-', starting and ending with a letter or digit, at most 63 characters"
        )
    check_image_repo(answers.image_repo)
    check_environments(answers.environments)
    fields = set(re.findall(r"{(\w*)}", answers.namespace_template))
    if fields - _TEMPLATE_FIELDS or "{env}" not in answers.namespace_template:
        raise BadInput(
            f"--namespace-template {answers.namespace_template!r} must use {{env}} "
            "and may use {service} only"
        )
    for env in answers.environments:
        namespace = answers.namespace(env)
        if not DNS1123_LABEL.fullmatch(namespace):
            raise BadInput(
                f"--namespace-template gives namespace {namespace!r} for {env}: not a DNS-1123 label"
            )
    if answers.argocd_project and not DNS1123_LABEL.fullmatch(answers.argocd_project):
        raise BadInput(
            f"--argocd-project {answers.argocd_project!r} is not a valid Argo CD project name "
            "(a DNS-1123 label)"
        )
    if answers.jira_project and not JIRA_KEY.fullmatch(answers.jira_project):
        raise BadInput(
            f"--jira-project {answers.jira_project!r} is not a Jira project key: upper-case letters, "
            "digits and '_', starting with a letter, 2 to 10 characters (e.g. ORD)"
        )
    check_s3(answers.test_results_s3)
    for env in answers.pull_request_envs:
        if env not in answers.environments:
            raise BadInput(
                f"--via-pull-request {','.join(answers.pull_request_envs)}: {env!r} is not one of the "
                f"environments ({','.join(answers.environments)})"
            )
    if len(set(answers.pull_request_envs)) != len(answers.pull_request_envs):
        raise BadInput(
            f"--via-pull-request {','.join(answers.pull_request_envs)!r} names an environment twice"
        )
    for name in ("requests", "limits"):
        resources(getattr(answers, name), f"--{name}")
    if answers.jdk not in JDKS:
        raise BadInput(
            f"--jdk {answers.jdk}: pipekit base images exist for JDK {' and '.join(map(str, JDKS))}"
        )
    if not answers.gitops_url:
        raise BadInput(
            "no GitOps repository URL for Argo CD: pass --gitops-repo URL, or give the --gitops-dir "
            "checkout an origin remote (git remote add origin URL)"
        )
    check_gitops_url(answers.gitops_url)
    check_remote_url(answers.gitops_url)
    for flag, branch in (("--branch", answers.branch), ("--gitops-branch", answers.gitops_branch)):
        if branch.startswith("-") or not re.fullmatch(r"[^\s~^:?*\[\\]*", branch) or ".." in branch:
            raise BadInput(f"{flag} {branch!r} is not a valid branch name")
    if answers.signing_public_key:
        from pipekit.signing.keys import load_public_key

        load_public_key(answers.signing_public_key, {}, where="--signing-public-key")  # an ECDSA P-256 PEM
    return answers


def is_remote_url(url: str) -> bool:
    return bool(_REMOTE_URL.fullmatch(url))


def check_remote_url(url: str) -> None:
    """A URL Argo CD can clone: a local path or file:// URL is bad input (Argo CD runs elsewhere)."""
    if not is_remote_url(url):
        raise BadInput(
            f"GitOps repository URL {url!r} is not a URL Argo CD can reach (it is written into the "
            "Applications' repoURL and the AppProject's sourceRepos): pass --gitops-url with the "
            "repository's https:// or ssh URL"
        )


def check_s3(uri: str) -> None:
    if not uri:
        return
    bucket = uri[5:].split("/", 1)[0] if uri.startswith("s3://") else ""
    if not S3_BUCKET.fullmatch(bucket) or ".." in bucket:
        raise BadInput(
            f"--test-results-s3 {uri!r} is not an S3 URL: use s3://bucket/prefix (a bucket name of "
            "3 to 63 lower-case letters, digits, '.' and '-')"
        )


def resources(value: str, flag: str) -> dict[str, str]:
    """``cpu=250m,memory=512Mi`` as a mapping; BadInput naming ``flag`` for anything else."""
    out: dict[str, str] = {}
    for item in (p.strip() for p in value.split(",") if p.strip()):
        key, eq, quantity = item.partition("=")
        if not eq or key.strip() not in RESOURCE_KEYS or not QUANTITY.fullmatch(quantity.strip()):
            raise BadInput(
                f"{flag} {value!r}: expected cpu=QUANTITY,memory=QUANTITY (e.g. cpu=250m,memory=512Mi), "
                f"not {item!r}"
            )
        out[key.strip()] = quantity.strip()
    if set(out) != set(RESOURCE_KEYS):
        raise BadInput(f"{flag} {value!r}: give both cpu and memory (a ResourceQuota needs both)")
    return out


_USER = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,31}")  # a plain user name: git, x-token-auth, dana.lee


def check_gitops_url(url: str) -> None:
    """BadInput unless ``url`` carries no credentials: user information other than a plain user
    name (``ssh://git@host/...``) would land in pipekit.yaml, .pipekit/init.yaml, the baselines and
    Argo CD's ``repoURL``. The message shows the URL with its user information masked."""
    from urllib.parse import urlsplit

    scp = re.fullmatch(r"([^@/:]+)@([^@/:]+):(.*)", url) if "://" not in url else None
    if scp:  # git@host:owner/repo.git
        user, host = scp.group(1), scp.group(2)
        password = None
    else:
        try:
            split = urlsplit(url)
            host = split.hostname or ""
            split.port  # noqa: B018 (parsing it is the check)
        except ValueError:
            raise BadInput(
                f"GitOps repository URL {_masked(url)} is not a valid URL",
                hint="check --gitops-repo (or the checkout's origin remote)",
            ) from None
        user, password = split.username, split.password
    if user is None:
        return
    looks_secret = len(user) >= 16 and any(c.isdigit() for c in user)  # a token pasted as the user name
    if password is not None or not _USER.fullmatch(user) or looks_secret:
        raise BadInput(
            f"the GitOps repository URL carries credentials ({_masked(url)}), which would land in "
            "pipekit.yaml, .pipekit/init.yaml and the Argo CD manifests",
            hint=f"use a URL without them (a plain user name such as git@{host or 'host'} is fine) and "
            "put the token in PIPEKIT_GITOPS_TOKEN",
        )


def _masked(url: str) -> str:
    """``url`` with everything between the scheme and the last ``@`` of its authority replaced by ``***``."""
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{path}"


def check_image_repo(image_repo: str) -> None:
    last = image_repo.rsplit("/", 1)[-1]
    if "@" in image_repo or ":" in last:
        raise BadInput(
            f"--image-repo {image_repo!r} must be a repository without tag or digest "
            "(e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders)"
        )
    if not image_repo or len(image_repo) > 255 or not NAME_RE.fullmatch(image_repo):
        raise BadInput(
            f"--image-repo {image_repo!r} is not a valid image reference: lower-case path "
            "components [a-z0-9] joined by '.', '_', '__' or '-', optional registry host[:port]/"
        )
