"""run-pipeline's reading of bitbucket-pipelines.yml: what Bitbucket refuses (exit 2 with the line), which
pipeline a trigger starts (glob precedence), globs, variables files. No step runs here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipekit.core import masking
from pipekit.core.errors import BadInput, CheckFailed
from pipekit.pipelines import globs, parse, plan, selection, variables
from pipekit.pipelines.model import Step


def load(text: str, tmp_path: Path):
    path = tmp_path / "bitbucket-pipelines.yml"
    path.write_text(text)
    return parse.load(path)


def refused(text: str, tmp_path: Path) -> str:
    with pytest.raises(BadInput) as caught:
        load(text, tmp_path)
    return str(caught.value)


MINIMAL = "pipelines:\n  default:\n    - step:\n        script:\n          - echo hi\n"


def test_a_typo_is_refused_with_its_line_and_keyword(tmp_path: Path) -> None:
    text = "pipelines:\n  default:\n    - step:\n        name: Build\n        scrpit:\n          - make\n"
    message = refused(text, tmp_path)
    assert message.startswith("bitbucket-pipelines.yml:5: unknown keyword 'scrpit' in step")
    assert "did you mean 'script'?" in message


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("pipelines:\n  default:\n    - step: *missing\n", 3, "malformed YAML"),  # an undefined anchor
        ("image: x\n", 1, "no 'pipelines' section"),
        ("pipelines:\n  default:\n    - step:\n        name: x\n", 3, "a step needs a script"),
        ("pipelines:\n  default:\n    - step:\n        script:\n          - echo: hi\n", 5, "a mapping"),
        (
            "pipelines:\n  default:\n    - step:\n        script: [make]\n        artifacts: ['../out/*']\n",
            5,
            "outside the clone",
        ),
        ("pipelines:\n  default:\n    - step:\n        script: [make]\n        max-time: 0\n", 5, "max-time"),
        (
            "pipelines:\n  default:\n    - step:\n        script: [make]\n        trigger: later\n",
            5,
            "trigger",
        ),
        (
            "pipelines:\n  default:\n    - stage:\n        steps:\n          - step:\n"
            "              script: [a]\n"
            "              deployment: x\n",
            7,
            "a step in a stage cannot have a deployment",
        ),
        (
            "pipelines:\n  custom:\n    go:\n      - variables:\n          - name: A\n"
            "            default: c\n"
            "            allowed-values: [a, b]\n      - step:\n          script: [make]\n",
            6,
            "allowed values",
        ),
        (
            "pipelines:\n  branches:\n    main:\n      - paralel:\n          - step: {script: [a]}\n",
            4,
            "unknown keyword 'paralel'",
        ),
        ("clone:\n  depth: shallow\n" + MINIMAL, 2, "clone depth"),
    ],
)
def test_files_bitbucket_refuses(tmp_path: Path, text: str, line: int, words: str) -> None:
    message = refused(text, tmp_path)
    assert f"bitbucket-pipelines.yml:{line}:" in message and words in message


def test_anchors_and_merge_keys_make_steps(tmp_path: Path) -> None:
    text = (
        "definitions:\n  steps:\n    - step: &build\n        name: Build\n        script: [make]\n"
        "        caches: [maven]\n"
        "pipelines:\n  default:\n    - step: *build\n    - step:\n        <<: *build\n        name: Again\n"
    )
    file = load(text, tmp_path)
    assert file.default is not None
    steps = [item for item in file.default.items if isinstance(item, Step)]
    assert [s.name for s in steps] == ["Build", "Again"]
    assert steps[1].caches == ("maven",) and steps[1].script == ("make",)


def checked(text: str, tmp_path: Path, trigger: str = "default") -> list[plan.PlannedStep]:
    file = load(text, tmp_path)
    pipeline = selection.select(file, selection.parse_trigger(trigger, "main"))
    laid_out = plan.lay_out(pipeline)
    plan.check(file, pipeline, laid_out)
    return laid_out


@pytest.mark.parametrize(
    "text, words",
    [
        ("pipelines:\n  default:\n    - step:\n        trigger: manual\n        script: [a]\n", "first step"),
        (
            "pipelines:\n  default:\n    - step: {script: [a], deployment: prod}\n"
            "    - step: {script: [b], deployment: prod}\n",
            "'prod' is used twice",
        ),
        ("pipelines:\n  default:\n    - step: {script: [a], caches: [mine]}\n", "cache 'mine'"),
        ("pipelines:\n  default:\n    - step: {script: [a], services: [db]}\n", "service 'db'"),
        ("clone:\n  lfs: true\n" + MINIMAL, "lfs"),
    ],
)
def test_pipelines_bitbucket_refuses_to_start(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(BadInput) as caught:
        checked(text, tmp_path)
    assert words in str(caught.value) and "bitbucket-pipelines.yml:" in str(caught.value)


def test_a_custom_pipeline_may_start_with_a_manual_step_and_a_stage_shares_its_environment(
    tmp_path: Path,
) -> None:
    text = (
        "pipelines:\n  custom:\n    deploy:\n      - step: {script: [a], trigger: manual}\n"
        "      - stage:\n          deployment: prod\n          steps:\n            - step: {script: [b]}\n"
        "            - step: {script: [c]}\n"
    )
    laid_out = checked(text, tmp_path, "custom:deploy")
    assert laid_out[0].manual and [p.deployment for p in laid_out] == [None, "prod", "prod"]


BRANCHES = """
pipelines:
  default:
    - step: {name: default, script: [a]}
  branches:
    'feature/*': [{step: {name: 'feature/*', script: [a]}}]
    'feature/bb-*': [{step: {name: 'feature/bb-*', script: [a]}}]
    'feature/bb-123-fix': [{step: {name: literal, script: [a]}}]
    '**': [{step: {name: '**', script: [a]}}]
    '{release,hotfix}/*': [{step: {name: braces, script: [a]}}]
  tags:
    'v*': [{step: {name: 'v*', script: [a]}}]
  pull-requests:
    'feature/*': [{step: {name: pr-feature, script: [a]}}]
    'bugfix/*':
      destinations:
        main: [{step: {name: pr-bugfix-main, script: [a]}}]
  custom:
    nightly: [{step: {name: nightly, script: [a]}}]
"""


@pytest.mark.parametrize(
    "trigger, expected",
    [
        ("branch:feature/bb-123-fix", "literal"),  # a literal name beats every glob
        ("branch:feature/bb-7", "feature/bb-*"),  # the most specific glob
        ("branch:feature/x", "feature/*"),
        ("branch:feature/x/y", "**"),  # '*' stops at '/', '**' does not
        ("branch:main", "**"),
        ("branch:hotfix/1", "braces"),
        ("tag:v1.2", "v*"),
        ("pr:feature/x:main", "pr-feature"),  # matched on the source branch
        ("pr:bugfix/1:main", "pr-bugfix-main"),
        ("custom:nightly", "nightly"),
        ("default", "default"),
    ],
)
def test_which_pipeline_a_trigger_starts(tmp_path: Path, trigger: str, expected: str) -> None:
    file = load(BRANCHES, tmp_path)
    pipeline = selection.select(file, selection.parse_trigger(trigger, "main"))
    assert plan.lay_out(pipeline)[0].label == expected


def test_default_runs_for_branches_only_and_no_match_is_exit_1(tmp_path: Path) -> None:
    text = (
        "pipelines:\n  default:\n    - step: {name: d, script: [a]}\n  branches:\n"
        "    main: [{step: {script: [b]}}]\n"
    )
    file = load(text, tmp_path)
    assert plan.lay_out(selection.select(file, selection.parse_trigger("branch:dev", None)))[0].label == "d"
    for trigger in ("tag:v1", "pr:dev:main"):
        with pytest.raises(CheckFailed, match="Bitbucket would start no pipeline"):
            selection.select(file, selection.parse_trigger(trigger, None))


@pytest.mark.parametrize("text", ["branch", "push:main", "pr:onlysource", "tag:", "default:x"])
def test_an_unknown_or_incomplete_trigger_is_bad_input(text: str) -> None:
    with pytest.raises(BadInput, match="--trigger"):
        selection.parse_trigger(text, "main")


@pytest.mark.parametrize(
    "pattern, name, hit",
    [
        ("dist/**", "dist/a/b.jar", True),
        ("**/*.xml", "report.xml", True),
        ("**/*.xml", "a/b/r.xml", True),
        ("reports/*.txt", "reports/a/b.txt", False),
        ("[!a]*", "b1", True),
        ("[!a]*", "a1", False),
        ("v?.*", "v1.2", True),
        ("feature\\*", "feature*", True),
        ("feature\\*", "featurex", False),
    ],
)
def test_globs(pattern: str, name: str, hit: bool) -> None:
    assert globs.matches(pattern, name) is hit


def test_variables_files_yaml_json_dotenv_and_masking(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "workspace:\n  W: w\n  R: from-workspace\nrepository:\n  R: repo\n"
        "  TOKEN: {value: tok-12345, secured: true}\ndeployments:\n  prod:\n    R: prod\n"
    )
    (tmp_path / "b.json").write_text(
        json.dumps({"repository": [{"key": "J", "value": "j", "secured": False}]})
    )
    (tmp_path / "c.env").write_text("# plain\nexport E='e value'\n")
    found = variables.load_files([tmp_path / "a.yml", tmp_path / "b.json", tmp_path / "c.env"])
    step = {k: v.value for k, v in found.for_step("prod").items()}
    assert step == {"W": "w", "R": "prod", "TOKEN": "tok-12345", "J": "j", "E": "e value"}
    assert found.for_step(None)["R"].value == "repo"
    assert masking.mask("the tok-12345 here") == "the *** here"


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("bad.yml", "repository: [1, 2\n", "malformed YAML"),
        ("bad.json", "{nope", "malformed JSON"),
        ("bad.env", "NOT A LINE\n", "bad.env:1: expected NAME=value"),
        ("bad2.yml", "repository:\n  1A: x\n", "not a variable name"),
    ],
)
def test_a_variables_file_that_does_not_parse_is_bad_input(
    tmp_path: Path, name: str, text: str, words: str
) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(BadInput) as caught:
        variables.load_file(tmp_path / name)
    assert name in str(caught.value) and words in str(caught.value)


def test_explain_prints_the_table_docs_run_pipeline_md_holds() -> None:
    from pipekit.pipelines import explain
    from tests.conftest import REPO_ROOT, run_pipekit

    text = (REPO_ROOT / "docs" / "run_pipeline.md").read_text()
    block = text.split("<!-- explain -->\n", 1)[1].split("<!-- /explain -->", 1)[0].strip()
    assert block == explain.markdown()
    cli = run_pipekit("run-pipeline", "--explain", "--json")
    assert cli.returncode == 0, cli.stderr
    rows = json.loads(cli.stdout)["emulation"]
    assert [r["what"] for r in rows] == [w for w, _, _ in explain.ROWS] and "docker service" in rows[10][
        "what"
    ]


def test_the_oidc_token_carries_bitbucket_claims_and_is_masked() -> None:
    import base64

    from pipekit.pipelines import oidc

    token = oidc.token(
        workspace="acme",
        workspace_uuid="{w-1}",
        repository_uuid="{r-1}",
        pipeline_uuid="{p-1}",
        step_uuid="{s-1}",
        branch="main",
        environment_uuid="{e-1}",
    )
    body = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert claims["iss"] == "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
    assert claims["aud"] == "ari:cloud:bitbucket::workspace/w-1" and claims["sub"] == "{r-1}{e-1}:{s-1}"
    assert claims["branchName"] == "main" and claims["exp"] - claims["iat"] == 3600
    assert masking.mask(f"Bearer {token}") == "Bearer ***"


def test_atlassians_schema_refuses_what_the_keyword_checks_let_through(tmp_path: Path) -> None:
    from pipekit.pipelines import schema
    from tests.conftest import SCHEMAS

    file = load("pipelines:\n  default:\n    - step:\n        size: 3x\n        script: [make]\n", tmp_path)
    for env in ({}, {"PIPEKIT_SCHEMAS_DIR": str(SCHEMAS)}):  # the shipped schema, or a folder's copy
        with pytest.raises(BadInput) as caught:
            schema.check(file, env)
        assert str(caught.value).startswith(
            "bitbucket-pipelines.yml:4: Atlassian's schema refuses it: '3x' is not one of"
        )
    schema.check(
        load("pipelines:\n  default:\n    - step:\n        size: 2x\n        script: [make]\n", tmp_path), {}
    )
