"""grype: ``grype TARGET -o json --file FILE``; 0 done, 2 findings at ``--fail-on``; 1 error."""

from __future__ import annotations

from pipekit.reports.runners.interface import Planned, Run, Runner


class GrypeRunner(Runner):
    name = "grype"

    def plan(self, p: Planned) -> Run:
        argv = [
            self.need("grype", "install grype", p.env),
            p.target,
            "-o",
            "json",
            "--file",
            str(p.report),
            *p.extra,
        ]
        return Run(self.name, argv, p.report, lambda rc: rc in (0, 2))


RUNNER = GrypeRunner()
