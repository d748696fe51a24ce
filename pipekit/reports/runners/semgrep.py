"""semgrep: ``semgrep scan --config RULES --json``; 0 done, 1 findings (``--error``); other: error.

Semgrep runs with ``--metrics=off``, the version check off, and its newer engine
(``--experimental``) which needs no Python plugins and starts in well under a second. The rules:
a local rules file (offline), or a Semgrep registry ruleset such as ``p/java`` (``p/``, ``r/``,
``s/`` names, fetched from the registry at scan time: the network is needed then).
"""

from __future__ import annotations

import re
from pathlib import Path

from pipekit.core.errors import BadInput
from pipekit.reports.runners.interface import Planned, Run, Runner

REGISTRY = re.compile(r"[prs]/[A-Za-z0-9_.:-]+(/[A-Za-z0-9_.:-]+)*")


class SemgrepRunner(Runner):
    name = "semgrep"

    def plan(self, p: Planned) -> Run:
        rules = p.cfg.get(
            "config"
        )  # scan.run.semgrep.config or PIPEKIT_SEMGREP_CONFIG, resolved by scan's options
        if not rules:
            raise BadInput(
                "--run semgrep needs rules: scan.run.semgrep.config in pipekit.yaml or "
                "PIPEKIT_SEMGREP_CONFIG (a local rules file, or a registry ruleset such as p/java)"
            )
        if not REGISTRY.fullmatch(str(rules)) and not Path(rules).is_file():
            raise BadInput(
                f"--run semgrep: rules file {rules} does not exist (a registry ruleset is named "
                "p/NAME, r/RULE or s/SNIPPET)"
            )
        argv = [
            self.need("semgrep", "pip install semgrep", p.env),
            "scan",
            "--experimental",
            "--metrics=off",
            "--disable-version-check",
            "--quiet",
            "--json",
            "--config",
            str(rules),
            *p.extra,
            p.target,
        ]
        return Run(
            self.name,
            argv,
            p.report,
            lambda rc: rc in (0, 1),
            stdout_is_report=True,
            env={"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"},
        )


RUNNER = SemgrepRunner()
