"""Every environment variable and pipekit.yaml key the docs name is in a step's option table, and back.

The docs are README.md and docs/*.md. A pipekit.yaml key is a backticked dotted path that the
schema knows (``notify.timeout``, ``environments.<env>.overlay``, ``ecr.retry.{attempts, ...}``)
or a leaf of a ``yaml`` example whose top-level keys are pipekit.yaml sections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from pipekit.cli import option_tables
from pipekit.core.config import schema
from pipekit.core.options import Option
from tests.conftest import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
ENV_RE = re.compile(
    r"\b((?:PIPEKIT|ARGOCD|AWS|BITBUCKET|JIRA|VERACODE|SRCCLR|MAVEN|DOCKER|REGISTRY|GIT)_[A-Z0-9_]*[A-Z0-9])\b"
)
WILD = {"<env>", "ENV", "TOOL", "*", "<tool>", "NAME"}

# Named in the docs, read outside any step's table, each for a reason:
SHARED_ENV = {
    # the step contract, for every step (pipekit.core.step): where the record and config are, debug logs
    "PIPEKIT_RUN_RECORD",
    "PIPEKIT_CONFIG",
    "PIPEKIT_DEBUG",
    # secrets read by the clients that use them, never kept in options
    "PIPEKIT_GITOPS_TOKEN",
    "PIPEKIT_SOURCE_TOKEN",
    "PIPEKIT_BITBUCKET_TOKEN",
    "SRCCLR_API_TOKEN",
    "VERACODE_API_KEY_ID",
    "VERACODE_API_KEY_SECRET",
    "BITBUCKET_STEP_OIDC_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    # the Bitbucket Code Insights client's endpoint (pipekit.clients.bitbucket)
    "PIPEKIT_BITBUCKET_API_URL",
    "PIPEKIT_BITBUCKET_PROXY",
    # AWS SDK settings botocore reads itself (pipekit.clients.aws passes them on)
    "AWS_ROLE_ARN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_STS",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ENDPOINT_URL_S3",
    # scripts/build-image.sh's own settings (not a step)
    "PIPEKIT_BUILD_CA",
    # the process runner's account of the tools pipekit drives (pipekit.core.process), read by the rehearsal
    "PIPEKIT_TIMINGS",
    # where init finds the public JSON schemas it validates against (pipekit.onboarding.schemas)
    "PIPEKIT_SCHEMAS_DIR",
    # other tools' own variables, inherited by the child process
    "MAVEN_OPTS",
    "GIT_ASKPASS",
    "GIT_SSH_COMMAND",
    "REGISTRY_AUTH_FILE",
    "DOCKER_CONFIG",
    "DOCKER_HOST",
    # the test suite's location of the public schemas
    "PIPEKIT_SHARED",
}
SHARED_ENV_PREFIXES = ("BITBUCKET_",)  # Bitbucket's context variables, read into PipelineContext


def tables() -> dict[str, list[Option]]:
    return {name: list(table) for name, table in option_tables().items()}


def all_options() -> list[Option]:
    return [o for options in tables().values() for o in options]


def docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in DOCS)


def _expand(path: str) -> Iterator[list[str]]:
    match = re.search(r"\{([^}]*)\}", path)
    if match:
        for alt in match.group(1).split(","):
            yield from _expand(path[: match.start()] + alt.strip() + path[match.end() :])
        return
    yield path.split(".")


def _in_schema(parts: list[str]) -> bool:
    root = schema()
    node: Any = root
    for part in parts:
        while isinstance(node, dict) and "$ref" in node:
            node = root["$defs"][node["$ref"].split("/")[-1]]
        if not isinstance(node, dict):
            return False
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        if part in props:
            node = props[part]
        elif isinstance(extra, dict):  # a mapping of names: argocd.apps.dev, environments.<env>
            node = extra
        elif part in WILD and props:
            node = next(iter(props.values()))
        else:
            return False
    return True


def documented_keys() -> set[str]:
    keys: set[str] = set()
    sections = set(schema()["properties"])
    text = docs_text()
    for quoted in re.findall(r"`([^`\n]+)`", text):
        quoted = quoted.strip().rstrip(":")
        if "." not in quoted or quoted.split(".", 1)[0] not in sections or " " in quoted.split("{")[0]:
            continue
        for parts in _expand(quoted):
            if _in_schema(parts):
                keys.add(".".join(parts))
    for block in re.findall(r"```ya?ml\n(.*?)```", text, flags=re.S):
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and data and set(data) <= sections:
            keys |= {k for k in _leaves(data, []) if _in_schema(k.split("."))}
    return keys


def _leaves(node: Any, path: list[str]) -> Iterator[str]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, [*path, str(key)])
    elif path:
        yield ".".join(path)


def _same(a: list[str], b: list[str]) -> bool:
    """The same path, a wildcard segment matching anything; a trailing ``*`` matches everything below."""
    if a and a[-1] == "*" and len(b) >= len(a) - 1:
        return _same(a[:-1], b[: len(a) - 1])
    if b and b[-1] == "*" and len(a) >= len(b) - 1:
        return _same(a[: len(b) - 1], b[:-1])
    return len(a) == len(b) and all(x == y or x in WILD or y in WILD for x, y in zip(a, b, strict=True))


def _covers(option: Option, doc_key: str) -> bool:
    """An option reads a documented key: its own, or (a data option) anything below it; a documented
    section (``build.maven``) is read when an option lives under it."""
    a, b = (option.config or "").split("."), doc_key.split(".")
    if _same(a, b) or (option.type == "data" and len(b) > len(a) and _same(a, b[: len(a)])):
        return True
    return len(b) < len(a) and _same(a[: len(b)], b)


def _documents(doc_key: str, option: Option) -> bool:
    """A documented key describes an option's key: the same path, a ``.*`` above it,
    or below a data option."""
    a, b = (option.config or "").split("."), doc_key.split(".")
    return _same(a, b) or (option.type == "data" and len(b) > len(a) and _same(a, b[: len(a)]))


def test_every_documented_variable_is_in_a_table() -> None:
    in_tables = {n for o in all_options() for n in o.env_names}
    named = set(ENV_RE.findall(docs_text()))
    missing = sorted(n for n in named - in_tables - SHARED_ENV if not n.startswith(SHARED_ENV_PREFIXES))
    assert missing == [], f"named in README/docs but in no step's option table (or SHARED_ENV): {missing}"


def test_every_table_variable_is_documented() -> None:
    named = set(ENV_RE.findall(docs_text()))
    missing = sorted(
        {
            f"{step}: {n}"
            for step, options in tables().items()
            for o in options
            for n in o.env_names
            if n not in named
        }
    )
    assert missing == [], f"in an option table but not in README/docs: {missing}"


def test_every_documented_key_is_in_a_table() -> None:
    options = [o for o in all_options() if o.config]
    missing = sorted(k for k in documented_keys() if not any(_covers(o, k) for o in options))
    assert missing == [], f"pipekit.yaml keys in README/docs that no option table reads: {missing}"


def test_every_table_key_is_documented() -> None:
    documented = documented_keys()
    missing = sorted(
        {
            f"{step}: {o.config}"
            for step, options in tables().items()
            for o in options
            if o.config and not any(_documents(k, o) for k in documented)
        }
    )
    assert missing == [], f"pipekit.yaml keys in an option table but not in README/docs: {missing}"


def test_the_extraction_sees_what_it_should() -> None:
    keys = documented_keys()
    assert {"notify.timeout", "gitops.username", "argocd.apps.dev"} <= keys
    assert "build.image_ref" not in keys  # a run record output, not a pipekit.yaml key
    assert "PIPEKIT_NOTIFY_TIMEOUT" in set(ENV_RE.findall(docs_text()))
