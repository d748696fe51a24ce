"""bandit: ``bandit -r TARGET -f json``; 0 none, 1 findings; 2 error."""

from __future__ import annotations

from pipekit.reports.runners.interface import Planned, Run, Runner


class BanditRunner(Runner):
    name = "bandit"

    def plan(self, p: Planned) -> Run:
        argv = [
            self.need("bandit", "pip install bandit", p.env),
            "-r",
            p.target,
            "-f",
            "json",
            "-o",
            str(p.report),
            "-q",
            *p.extra,
        ]
        return Run(self.name, argv, p.report, lambda rc: rc in (0, 1))


RUNNER = BanditRunner()
