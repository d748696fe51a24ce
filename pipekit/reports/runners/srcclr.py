"""srcclr (Veracode SCA): ``srcclr scan TARGET --json=FILE``; 0 done; other: error. The token stays in
the environment (``SRCCLR_API_TOKEN``)."""

from __future__ import annotations

from pipekit.reports.runners.interface import Planned, Run, Runner


class SrcClrRunner(Runner):
    name = "srcclr"

    def plan(self, p: Planned) -> Run:
        argv = [
            self.need("srcclr", "install the Veracode SCA agent", p.env),
            "scan",
            p.target,
            f"--json={p.report}",
            *p.extra,
        ]
        return Run(self.name, argv, p.report, lambda rc: rc == 0)


RUNNER = SrcClrRunner()
