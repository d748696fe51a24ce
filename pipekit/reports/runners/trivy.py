"""trivy: ``trivy fs|image --format json``; 0 even with findings (``--exit-code 0`` forced); other: error."""

from __future__ import annotations

from pathlib import Path

from pipekit.reports.runners.interface import Planned, Run, Runner


class TrivyRunner(Runner):
    name = "trivy"

    def plan(self, p: Planned) -> Run:
        mode = "image" if ":" in p.target and not Path(p.target).exists() else "fs"
        argv = [
            self.need("trivy", "install trivy", p.env),
            mode,
            "--format",
            "json",
            "--output",
            str(p.report),
            *p.extra,
            "--exit-code",
            "0",
            p.target,
        ]
        return Run(self.name, argv, p.report, lambda rc: rc == 0)


RUNNER = TrivyRunner()
