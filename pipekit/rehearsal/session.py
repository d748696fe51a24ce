"""The rehearsal as the stages see it: the local environment, the work folder, the sink, the stand-ins."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipekit.core.step import StepContext
from pipekit.rehearsal import workspace

if TYPE_CHECKING:
    from pipekit.core.console import Console
    from pipekit.testing.sink import WebhookSink


@dataclass
class Rehearsal:
    """What a stage can use: the local environment, the temporary folder, the sink, the stand-ins."""

    workdir: Path
    env: dict[str, str]
    sink: WebhookSink
    service: str
    repo: Path  # the sample service's git checkout
    servers: workspace.Servers
    console: Console
    container_tool: str = "buildah"
    planned: tuple[str, ...] = ()
    environments: tuple[str, ...] = workspace.ENVIRONMENTS  # in promotion order, from the settings
    fail_at: str = ""  # pipekit rehearse --fail-at: a stage that sets up a stand-in arms its failure

    @property
    def record_path(self) -> Path:
        return self.workdir / "run.json"

    def context(self, extra_env: Mapping[str, str] | None = None, *, quiet: bool = False) -> StepContext:
        """A step context in the service checkout; the step's own output goes to the rehearsal's stream."""
        from pipekit.core.console import Console

        ctx = StepContext.create(env={**self.env, **(extra_env or {})}, run_record=self.record_path,
                                 config_path=self.workdir / "pipekit.yaml", debug=self.console.debug_enabled,
                                 cwd=self.repo)
        ctx.console = Console(stream=io.StringIO() if quiet else self.console.stream, debug=self.console.debug_enabled)
        return ctx

    @property
    def short_sha(self) -> str:
        return self.env["BITBUCKET_COMMIT"][:7]
