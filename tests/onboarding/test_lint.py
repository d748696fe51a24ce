"""pipekit's lint of bitbucket-pipelines.yml: what Atlassian's schema lets through."""

from __future__ import annotations

from pipekit.cli import STEPS
from pipekit.onboarding import lint


def problems(text: str) -> list[str]:
    doc, found = lint.load(text, "bitbucket-pipelines.yml")
    return found or lint.lint(doc, "bitbucket-pipelines.yml")


def test_a_clean_pipeline_passes() -> None:
    assert (
        problems("""
pipelines:
  default:
    - step:
        name: Build
        script:
          - pipekit build --no-image --junit-out x.xml && echo done
          - pipekit promote --from dev --to qa --service=orders
""")
        == []
    )


def test_step_without_script() -> None:
    found = problems("pipelines:\n  default:\n    - step:\n        name: Build\n")
    assert found == ["bitbucket-pipelines.yml: pipelines.default[0].step (Build): step without a script"]


def test_undefined_anchor_names_the_line() -> None:
    found = problems("pipelines:\n  default:\n    - step: *build\n")
    assert len(found) == 1 and found[0].startswith("bitbucket-pipelines.yml:3: found undefined alias 'build'")


def test_unknown_command_and_flag_once_per_defined_step() -> None:
    found = problems("""
definitions:
  steps:
    - step: &push
        name: Push
        services: [docker]
        script:
          - pipekit build
          - pipekit ecr-push --create-repo
        after-script:
          - pipekit notfy --event auto
pipelines:
  default:
    - step: *push
""")
    assert found == [
        "bitbucket-pipelines.yml: definitions.steps[0].step (Push): "
        "'pipekit ecr-push --create-repo': no such flag",
        "bitbucket-pipelines.yml: definitions.steps[0].step (Push): 'pipekit notfy': no such command "
        f"(commands: {', '.join(STEPS)})",
    ]


def test_flags_after_double_dash_are_not_pipekits() -> None:
    assert lint.check_command_line("pipekit rehearse --help -- --anything") == []


def test_deployment_environment_used_twice_in_one_pipeline_only() -> None:
    found = problems("""
pipelines:
  branches:
    main:
      - step: {name: a, deployment: dev, script: [echo]}
      - step: {name: b, deployment: dev, script: [echo]}
    release:
      - step: {name: c, deployment: dev, script: [echo]}
""")
    assert len(found) == 1 and "pipelines.branches.main: deployment environment 'dev' used twice" in found[0]
