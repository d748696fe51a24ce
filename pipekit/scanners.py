"""``pipekit scan --run TOOL``: run a scanner, keep its report, judge its exit code by its own rules.

Exit codes differ per tool, and a non-zero one often only means "found something":

========  ===========================================  ==================================
tool      report / command                             exit codes
========  ===========================================  ==================================
semgrep   ``semgrep scan --config RULES --json``        0 done, 1 findings (``--error``);
                                                        other: error
bandit    ``bandit -r TARGET -f json``                  0 none, 1 findings; 2 error
veracode  ``java -jar pipeline-scan.jar --file F``      0 none, 1-200 = number of flaws;
                                                        above 200 (or negative): error
srcclr    ``srcclr scan TARGET --json=FILE``            0 done; other: error
trivy     ``trivy fs|image --format json``              0 even with findings (``--exit-code 0``
                                                        forced); other: error
grype     ``grype TARGET -o json --file FILE``          0 done, 2 findings at ``--fail-on``;
                                                        1 error
========  ===========================================  ==================================

Credentials come from the environment only (``VERACODE_API_KEY_ID``/``VERACODE_API_KEY_SECRET``,
``SRCCLR_API_TOKEN``), never from arguments. Semgrep runs offline: ``--metrics=off``, version
check off, a local rules file, and its newer engine (``--experimental``) which needs no Python
plugins and starts in well under a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput, ExternalError, TimedOut

DEFAULT_TIMEOUT_S = 1800


@dataclass
class Run:
    tool: str
    argv: list[str]
    report: Path
    ok: Callable[[int], bool]
    stdout_is_report: bool = False
    env: dict[str, str] = field(default_factory=dict)


def find_binary(name: str, env: Mapping[str, str]) -> str | None:
    """On PATH, or beside the running interpreter (a virtualenv's bin/ that is not activated)."""
    found = shutil.which(name, path=env.get("PATH"))
    if found:
        return found
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def plan(tool: str, cfg: Mapping[str, Any], out_dir: Path, env: Mapping[str, str]) -> Run:
    """The command for ``tool`` with its settings from ``scan.run.<tool>``."""
    target = str(cfg.get("target") or ".")
    extra = [str(a) for a in cfg.get("args") or []]
    report = out_dir / f"{tool}-report.json"

    def need(binary: str, how: str) -> str:
        path = find_binary(binary, env)
        if not path:
            raise BadInput(f"--run {tool}: {binary} is not installed (not on PATH)", hint=how)
        return path

    if tool == "semgrep":
        rules = cfg.get("config")  # scan.run.semgrep.config or PIPEKIT_SEMGREP_CONFIG, resolved by scan's options
        if not rules:
            raise BadInput("--run semgrep needs a local rules file: scan.run.semgrep.config in pipekit.yaml "
                           "or PIPEKIT_SEMGREP_CONFIG (registry rule packs would need the network)")
        if not Path(rules).is_file():
            raise BadInput(f"--run semgrep: rules file {rules} does not exist")
        argv = [need("semgrep", "pip install semgrep"), "scan", "--experimental", "--metrics=off",
                "--disable-version-check", "--quiet", "--json", "--config", str(rules), *extra, target]
        return Run(tool, argv, report, lambda rc: rc in (0, 1), stdout_is_report=True,
                   env={"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"})
    if tool == "bandit":
        argv = [need("bandit", "pip install bandit"), "-r", target, "-f", "json", "-o", str(report), "-q", *extra]
        return Run(tool, argv, report, lambda rc: rc in (0, 1))
    if tool == "veracode":
        jar = cfg.get("jar") or "pipeline-scan.jar"  # or PIPEKIT_VERACODE_JAR, resolved by scan's options
        if not Path(jar).is_file():
            raise BadInput(f"--run veracode: {jar} not found", hint="set scan.run.veracode.jar to pipeline-scan.jar")
        if target == ".":
            raise BadInput("--run veracode needs scan.run.veracode.target: the packaged artifact (jar/war/zip)")
        argv = [need("java", "install a JRE"), "-jar", str(jar), "--file", target, "--json_output", "true",
                "--json_output_file", str(report), *extra]
        return Run(tool, argv, report, lambda rc: 0 <= rc <= 200)
    if tool == "srcclr":
        argv = [need("srcclr", "install the Veracode SCA agent"), "scan", target, f"--json={report}", *extra]
        return Run(tool, argv, report, lambda rc: rc == 0)
    if tool == "trivy":
        mode = "image" if ":" in target and not Path(target).exists() else "fs"
        argv = [need("trivy", "install trivy"), mode, "--format", "json", "--output", str(report), *extra,
                "--exit-code", "0", target]
        return Run(tool, argv, report, lambda rc: rc == 0)
    if tool == "grype":
        argv = [need("grype", "install grype"), target, "-o", "json", "--file", str(report), *extra]
        return Run(tool, argv, report, lambda rc: rc in (0, 2))
    raise BadInput(f"--run {tool!r} is not known; use one of: bandit, grype, semgrep, srcclr, trivy, veracode")


TOOLS = ("bandit", "grype", "semgrep", "srcclr", "trivy", "veracode")


def execute(run: Run, env: Mapping[str, str], *, timeout_s: float = DEFAULT_TIMEOUT_S,
            cwd: str | Path | None = None) -> Path:
    """Run it; the report path when its exit code means "scanned", else a clear error."""
    run.report.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**env, **run.env}
    try:
        with open(run.report, "wb") if run.stdout_is_report else open(os.devnull, "wb") as out:
            proc = subprocess.run(run.argv, stdout=out, stderr=subprocess.PIPE, env=full_env, cwd=cwd,
                                  timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise TimedOut(f"--run {run.tool}: no result after {timeout_s:.0f} s") from None
    except OSError as exc:
        raise ExternalError(f"--run {run.tool}: cannot start {run.argv[0]}: {exc.strerror or exc}") from None
    if not run.ok(proc.returncode):
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no output)"])[-1][:300]
        raise ExternalError(f"--run {run.tool}: exited {proc.returncode}: {last}")
    if not run.report.is_file() or run.report.stat().st_size == 0:
        raise ExternalError(f"--run {run.tool}: exited {proc.returncode} but wrote no report at {run.report}")
    return run.report
