"""semgrep: ``semgrep scan --config RULES --json``; 0 done, 1 findings (``--error``); other: error.

Semgrep runs offline: ``--metrics=off``, version check off, a local rules file, and its newer
engine (``--experimental``) which needs no Python plugins and starts in well under a second.
"""

from __future__ import annotations

from pathlib import Path

from pipekit.core.errors import BadInput
from pipekit.reports.runners.interface import Planned, Run, Runner


class SemgrepRunner(Runner):
    name = "semgrep"

    def plan(self, p: Planned) -> Run:
        rules = p.cfg.get("config")  # scan.run.semgrep.config or PIPEKIT_SEMGREP_CONFIG, resolved by scan's options
        if not rules:
            raise BadInput("--run semgrep needs a local rules file: scan.run.semgrep.config in pipekit.yaml "
                           "or PIPEKIT_SEMGREP_CONFIG (registry rule packs would need the network)")
        if not Path(rules).is_file():
            raise BadInput(f"--run semgrep: rules file {rules} does not exist")
        argv = [self.need("semgrep", "pip install semgrep", p.env), "scan", "--experimental", "--metrics=off",
                "--disable-version-check", "--quiet", "--json", "--config", str(rules), *p.extra, p.target]
        return Run(self.name, argv, p.report, lambda rc: rc in (0, 1), stdout_is_report=True,
                   env={"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"})


RUNNER = SemgrepRunner()
