"""The Bitbucket example in docs/ (and the README)
is valid against Atlassian's schema and uses real commands."""

from __future__ import annotations

import re

import jsonschema
import yaml

from pipekit.cli import STEPS
from tests.conftest import REPO_ROOT, load_schema

EXAMPLE = REPO_ROOT / "docs" / "bitbucket-pipelines.example.yml"


def _steps(node):
    if isinstance(node, dict):
        if "script" in node and isinstance(node["script"], list):
            yield node
        for value in node.values():
            yield from _steps(value)
    elif isinstance(node, list):
        for item in node:
            yield from _steps(item)


def test_example_validates_against_bitbucket_schema():
    doc = yaml.safe_load(EXAMPLE.read_text())
    jsonschema.Draft7Validator(load_schema("bitbucket-pipelines.schema.json")).validate(doc)


def test_example_steps_have_names_and_scripts_and_carry_the_run_record():
    doc = yaml.safe_load(EXAMPLE.read_text())
    steps = list(_steps(doc))
    assert len(steps) >= 5
    for step in steps:
        assert step.get("name"), step  # the schema allows nameless steps; our lint does not
        assert step["script"], step
    shared = doc["definitions"]["steps"]
    for entry in shared[:-1]:
        assert ".pipekit/run.json" in entry["step"]["artifacts"], entry["step"]["name"]


def test_example_only_uses_existing_commands():
    text = EXAMPLE.read_text()
    used = set(re.findall(r"pipekit ([a-z-]+)", text))
    assert used, "no pipekit command in the example"
    assert used <= set(STEPS), used - set(STEPS)


def test_readme_embeds_the_example():
    readme = (REPO_ROOT / "README.md").read_text()
    body = EXAMPLE.read_text().split("\n", 3)[3]  # without the comment header
    assert body.strip()[:200] in readme


def test_example_passes_inits_lint_of_what_bitbucket_does():
    """Each step has its own docker service: the example builds and pushes its image
    in one step (issue 21)."""
    from pipekit.onboarding import lint

    doc, problems = lint.load(EXAMPLE.read_text(), EXAMPLE.name)
    assert problems == [] and lint.lint(doc, EXAMPLE.name) == []
