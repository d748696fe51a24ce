"""What ``pipekit run-pipeline`` is asked to run, declared once: the file, the trigger, the variables and
the steps; :mod:`pipekit.pipelines.launch` reads it as the step does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipekit.core.options import option


@dataclass(kw_only=True)
class RunPipelineOptions:
    file: Path = option(
        Path("bitbucket-pipelines.yml"),
        argument=True,
        metavar="[FILE]",
        help="The pipeline file [default: ./bitbucket-pipelines.yml].",
    )
    trigger: str = option(
        "",
        flag="--trigger",
        metavar="KIND:NAME",
        help="branch:NAME, tag:NAME, pr:SOURCE:DEST, custom:NAME or default "
        "[default: branch:<the checkout's branch>].",
    )
    commit: str = option("HEAD", flag="--commit", help="The commit to run (it must be committed).")
    variables: list[Path] = option(
        default_factory=list,
        flag="--variables",
        metavar="FILE",
        help="Workspace, repository and deployment variables (YAML, JSON or .env); "
        "repeatable, later files win.",
    )
    var: list[str] = option(
        default_factory=list,
        flag="--var",
        metavar="NAME=VALUE",
        help="A custom pipeline's variable (repeatable).",
    )
    approve: list[str] = option(
        default_factory=list,
        flag="--approve",
        metavar="STEP_OR_ENV",
        help="Run this manual step (its name, number or deployment environment).",
    )
    from_step: str | None = option(
        flag="--from",
        metavar="STEP",
        help="Start at this step, with the artifacts the earlier run in --workdir kept.",
    )
    until: str | None = option(flag="--until", metavar="STEP", help="Stop after this step.")
    image_map: list[str] = option(
        default_factory=list,
        flag="--image-map",
        metavar="IMAGE=LOCAL",
        help="Run steps (or a pipe, or a service) that name IMAGE in the local image LOCAL.",
    )
    workdir: Path | None = option(
        flag="--workdir",
        metavar="DIR",
        help="Keep logs, artifacts and the run's state here [default: a temporary folder].",
    )
    keep: bool = option(False, flag="--keep", help="Keep each step's clone (and a temporary workdir).")
    cache_dir: Path | None = option(
        flag="--cache-dir",
        env="PIPEKIT_CACHE_DIR",
        metavar="DIR",
        help="Where caches live between runs [default: ~/.cache/pipekit/run-pipeline/<repository>].",
    )
    clear_caches: bool = option(False, flag="--clear-caches", help="Delete the caches before running.")
    explain: bool = option(False, flag="--explain", help="Print what is emulated and how, then stop.")
    ask: bool = True  # a manual step prompts when stdin is a terminal (the Python API may turn it off)
