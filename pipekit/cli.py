"""``pipekit <step>``: one click group whose subcommands are loaded only when called.

Each step lives in its own module (``pipekit/<module>.py``) with a click command ``main``;
``python -m pipekit.<module>`` reaches the same command. Importing only the module that
runs keeps start-up lean.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from pipekit import __version__
from pipekit.core.options import OptionTable

# command name -> (module, one-line help). Order is the order a pipeline walks.
STEPS: dict[str, tuple[str, str]] = {
    "init": (
        "pipekit.init",
        "Onboard a service: pipeline, pipekit.yaml, GitOps base, overlays, Argo CD apps.",
    ),
    "build": ("pipekit.build", "Maven build, test report and container image."),
    "scan": ("pipekit.scan", "Security gate over SAST and SCA scanner reports."),
    "sbom": ("pipekit.sbom", "A CycloneDX SBOM of the Maven dependencies and the image (cdxgen)."),
    "ecr-push": ("pipekit.ecr_push", "Ensure the ECR repository, log in and push every tag (idempotent)."),
    "update-tag": ("pipekit.update_tag", "Set an image tag/digest in a Kustomize GitOps overlay and push."),
    "jira-gate": (
        "pipekit.jira_gate",
        "Check the release version in Jira before QA (exists, released, issues done).",
    ),
    "promote": ("pipekit.promote", "Promote image references from one environment's overlay to the next."),
    "wait-for-argocd": (
        "pipekit.wait_for_argocd",
        "Wait until Argo CD synced the right revision, healthy, hooks passed.",
    ),
    "post-sync-test": (
        "pipekit.post_sync_test",
        "PostSync test Job: wait for real readiness, run the suite, trust only consistent JUnit.",
    ),
    "notify": ("pipekit.notify", "Send a pipeline notification to Teams and Slack."),
    "dora": ("pipekit.dora", "The five DORA metrics from the GitOps history, with 2024 performance levels."),
    "history": ("pipekit.history", "What ran where and since when, newest first, from the GitOps history."),
    "rollback": ("pipekit.rollback", "Put an earlier image back into an environment with a GitOps commit."),
    "status": (
        "pipekit.status",
        "What runs where: services x environments, with Argo CD's live state and drift.",
    ),
    "diff": (
        "pipekit.diff",
        "What promoting one environment to another would carry: commits, authors, Jira issues.",
    ),
    "doctor": ("pipekit.doctor", "Check the image's tools, Python dependencies, credentials and endpoints."),
    "alerts": ("pipekit.alerts", "The service's alert rules: test (promtool, amtool), render, list."),
    "run-pipeline": ("pipekit.run_pipeline", "Run a bitbucket-pipelines.yml here the way Bitbucket runs it."),
    "rehearse": ("pipekit.rehearse", "Run the main pipeline job locally on embedded defaults."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(STEPS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = cmd_name.replace("_", "-")
        if name not in STEPS:
            return None
        module = importlib.import_module(STEPS[name][0])
        command: click.Command = module.main
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text from the table, so `pipekit --help` imports no step module.
        with formatter.section("Steps"):
            formatter.write_dl([(name, help_) for name, (_, help_) in STEPS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipekit")
def cli() -> None:
    """pipekit: composable CI/CD pipeline steps.

    Every step exits 0 done, 1 the checked thing failed, 2 bad input,
    3 an outside system failed after retries, 4 timed out, 5 pipekit itself
    failed (a bug), 130/143 stopped by SIGINT/SIGTERM.
    """


def option_tables() -> dict[str, OptionTable]:
    """Every step's option table by command name, and the settings a gate reads (imports every step: for
    the pipekit.yaml schema generator and the docs test, never for a command)."""
    from pipekit.core.options import table_of
    from pipekit.promotion.signature import SignatureSettings

    tables = {name: importlib.import_module(module).main.option_table for name, (module, _) in STEPS.items()}
    tables["promote's signature gate"] = table_of(SignatureSettings)
    return tables


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="pipekit")


if __name__ == "__main__":
    main()
