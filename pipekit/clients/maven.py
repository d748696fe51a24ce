"""Maven: find it (``./mvnw`` first), run it with its output streamed, and understand that output.

Knows Maven and nothing of pipelines. While Maven runs, each line goes to ``output`` and
every mojo start (``--- plugin:version:goal (id) @ module ---``) becomes one status line
for ``status``. A failed build is explained from Maven's ``[ERROR] Failed to execute goal
... on project X`` line: the module, the lifecycle phase and the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import BadInput

LineSink = Callable[[str], None]
INSTALL_HINT = (
    "the pipekit base image ships mvn (Debian package maven, with JDK 17), as do the maven:3.9-* "
    "images; or commit the Maven wrapper (mvn wrapper:wrapper) so ./mvnw is used"
)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Maven 3.8: "--- maven-compiler-plugin:3.13.0:compile (default-compile) @ shop-app ---"
# Maven 3.9: "--- compiler:3.13.0:compile (default-compile) @ shop-app ---"
_MOJO = re.compile(
    r"^\[INFO\] --- (?P<plugin>[\w.-]+):(?P<version>[^:\s]+):(?P<goal>[\w.-]+)"
    r"(?: \((?P<execution>[^)]*)\))? @ (?P<module>[^\s]+) ---"
)
_BUILDING = re.compile(
    r"^\[INFO\] Building (?P<name>.+?) (?P<version>\S+)(?:\s+\[(?P<n>\d+)/(?P<of>\d+)\])?\s*$"
)
_ARTIFACT = re.compile(r"^\[INFO\] -+< (?P<group>[^:\s]+):(?P<artifact>[^\s>]+) >-+$")
_FAILED_GOAL = re.compile(
    r"^\[ERROR\] Failed to execute goal (?:(?P<mojo>\S+) (?:\((?P<execution>[^)]*)\) )?)?"
    r"on project (?P<module>[^:\s]+): (?P<reason>.*)$"
)
_TEST_FAILURES = re.compile(
    r"There (?:are|was) test failures|There are test errors|Tests run:.*Failures", re.I
)

# goal -> lifecycle phase for the plugins a Java service build runs
GOAL_PHASES = {
    "clean": "clean",
    "resources": "process-resources",
    "compile": "compile",
    "testResources": "process-test-resources",
    "testCompile": "test-compile",
    "test": "test",
    "jar": "package",
    "war": "package",
    "shade": "package",
    "repackage": "package",
    "integration-test": "integration-test",
    "verify": "verify",
    "check": "verify",
    "enforce": "validate",
    "install": "install",
    "deploy": "deploy",
}


@dataclass
class MavenFailure:
    module: str
    phase: str
    goal: str
    reason: str
    tests_failed: bool = False

    def describe(self) -> str:
        return f"module {self.module} failed in phase {self.phase} ({self.goal}): {self.reason}"


@dataclass
class MavenRun:
    argv: list[str]
    returncode: int
    duration_s: float
    started_at: float
    modules: list[str] = field(default_factory=list)
    failure: MavenFailure | None = None
    tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class MavenOptions:
    project_dir: Path
    goals: Sequence[str] = ("clean", "verify")
    args: Sequence[str] = ()
    settings: Path | None = None
    local_repo: Path | None = None
    offline: bool = False
    maven_opts: str | None = None
    executable: str | None = None


def find_executable(
    project_dir: Path, explicit: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    """``./mvnw`` when the project has it, else ``mvn`` on PATH; :class:`BadInput` if neither."""
    path = (env or os.environ).get("PATH")
    if explicit:
        found = (
            explicit
            if os.sep in explicit and os.access(explicit, os.X_OK)
            else shutil.which(explicit, path=path)
        )
        if not found:
            raise BadInput(f"Maven executable {explicit!r} not found", hint=INSTALL_HINT)
        return found
    wrapper = project_dir / "mvnw"
    if wrapper.is_file():
        if not os.access(wrapper, os.X_OK):
            raise BadInput(f"{wrapper} is not executable", hint="git update-index --chmod=+x mvnw")
        return str(wrapper.resolve())
    found = shutil.which("mvn", path=path)
    if not found:
        raise BadInput("Maven not found: no ./mvnw in the project and no mvn on PATH", hint=INSTALL_HINT)
    return found


def build_argv(executable: str, options: MavenOptions) -> list[str]:
    argv = [executable, "-B", "-ntp", "-Dstyle.color=never"]
    if options.offline:
        argv.append("-o")
    if options.settings is not None:
        argv += ["-s", str(options.settings)]
    if options.local_repo is not None:
        argv.append(f"-Dmaven.repo.local={options.local_repo}")
    return [*argv, *options.args, *options.goals]


class StatusParser:
    """Turns Maven's log lines into status lines and, at the end, a :class:`MavenFailure`."""

    def __init__(self) -> None:
        self.current_module: str | None = None
        self.position = ""
        self.modules: list[str] = []
        self.failure: MavenFailure | None = None
        self._failure_next = False
        self._last_error = ""

    def feed(self, line: str) -> str | None:
        """One clean log line in; a status line out when a new mojo starts."""
        if self._failure_next:
            self._failure_next = False
            detail = line.removeprefix("[ERROR]").strip()
            if self.failure and detail and not detail.startswith("->") and "Please refer" not in detail:
                self.failure.reason = f"{self.failure.reason}: {detail}" if self.failure.reason else detail
        m = _ARTIFACT.match(line)
        if m:
            self.current_module = m["artifact"]
            self.modules.append(m["artifact"])
            return None
        m = _BUILDING.match(line)
        if m and not line.startswith("[INFO] Building jar") and not line.startswith("[INFO] Building war"):
            self.position = f"[{m['n']}/{m['of']}] " if m["n"] else ""
            return None
        m = _MOJO.match(line)
        if m:
            self.current_module = m["module"]
            goal = m["goal"]
            phase = GOAL_PHASES.get(goal, goal)
            return f"==> {self.position}{m['module']}: {phase} ({_short(m['plugin'])}:{goal})"
        m = _FAILED_GOAL.match(line)
        if m and self.failure is None:
            mojo = m["mojo"] or ""
            goal = mojo.rsplit(":", 1)[-1] if mojo else "dependency resolution"
            reason = m["reason"].strip().rstrip(".")
            self.failure = MavenFailure(
                module=m["module"],
                phase=GOAL_PHASES.get(goal, goal) if mojo else "validate",
                goal=_mojo_label(mojo) if mojo else "resolve dependencies",
                reason=reason,
                tests_failed=bool(_TEST_FAILURES.search(reason)),
            )
            self._failure_next = not reason or reason.endswith(("failure", "Compilation failure"))
            return None
        if line.startswith("[ERROR]") and line[7:].strip():
            self._last_error = line[7:].strip()
        return None

    def finish(self, returncode: int) -> MavenFailure | None:
        if returncode != 0 and self.failure is None:
            self.failure = MavenFailure(
                module=self.current_module or "(unknown)",
                phase="(unknown)",
                goal="mvn",
                reason=self._last_error or f"Maven exited {returncode}",
            )
        return self.failure if returncode != 0 else None


def _short(plugin: str) -> str:
    return plugin.removeprefix("maven-").removesuffix("-maven-plugin").removesuffix("-plugin")


def _mojo_label(mojo: str) -> str:
    parts = mojo.split(":")  # group:artifact:version:goal
    if len(parts) >= 4:
        return f"{parts[1]}:{parts[-1]}"
    return mojo


def run(
    options: MavenOptions,
    *,
    output: LineSink | None = None,
    status: LineSink | None = None,
    env: Mapping[str, str] | None = None,
) -> MavenRun:
    """Run Maven in the project directory, streaming; never raises for a failed build."""
    pom = options.project_dir / "pom.xml"
    if not pom.is_file():
        raise BadInput(
            f"no pom.xml in {options.project_dir.resolve()}",
            hint="run in the Maven project's directory or pass --project-dir",
        )
    if options.settings is not None and not options.settings.is_file():
        raise BadInput(f"Maven settings file {options.settings} does not exist")
    run_env = dict(os.environ if env is None else env)
    executable = find_executable(options.project_dir, options.executable, run_env)
    if options.maven_opts:
        run_env["MAVEN_OPTS"] = options.maven_opts
    argv = build_argv(executable, options)
    parser = StatusParser()
    tail: deque[str] = deque(maxlen=40)
    started_wall = time.time()
    started = time.monotonic()

    def line_out(raw: str) -> None:
        line = _ANSI.sub("", raw)
        tail.append(line)
        if output is not None:
            output(line)
        note = parser.feed(line)
        if note and status is not None:
            status(note)

    proc = process.run(
        argv, cwd=options.project_dir, env=run_env, check=False, stream=line_out, what=f"Maven {argv[0]}"
    )
    return MavenRun(
        argv=argv,
        returncode=proc.returncode,
        duration_s=round(time.monotonic() - started, 3),
        started_at=started_wall,
        modules=parser.modules,
        failure=parser.finish(proc.returncode),
        tail=list(tail),
    )
