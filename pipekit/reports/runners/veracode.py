"""veracode: ``java -jar pipeline-scan.jar --file F``; 0 none, 1-200 = number of flaws; above 200
(or negative): error. The API key stays in the environment (``VERACODE_API_KEY_ID``/``_SECRET``)."""

from __future__ import annotations

from pathlib import Path

from pipekit.core.errors import BadInput
from pipekit.reports.runners.interface import Planned, Run, Runner


class VeracodeRunner(Runner):
    name = "veracode"

    def plan(self, p: Planned) -> Run:
        jar = p.cfg.get("jar") or "pipeline-scan.jar"  # or PIPEKIT_VERACODE_JAR, resolved by scan's options
        if not Path(jar).is_file():
            raise BadInput(
                f"--run veracode: {jar} not found", hint="set scan.run.veracode.jar to pipeline-scan.jar"
            )
        if p.target == ".":
            raise BadInput(
                "--run veracode needs scan.run.veracode.target: the packaged artifact (jar/war/zip)"
            )
        argv = [
            self.need("java", "install a JRE", p.env),
            "-jar",
            str(jar),
            "--file",
            p.target,
            "--json_output",
            "true",
            "--json_output_file",
            str(p.report),
            *p.extra,
        ]
        return Run(self.name, argv, p.report, lambda rc: 0 <= rc <= 200)


RUNNER = VeracodeRunner()
