"""A step's ``script`` and ``after-script``, run where the step runs.

Both go through the wrapper in one command when neither holds a pipe (one container start, not
two); a pipe line splits its script into segments, each pipe running in its own container of
the pipe's local image between them (shell state does not carry across a pipe line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipekit.core.errors import CheckFailed
from pipekit.pipelines.commands import CommandRunner
from pipekit.pipelines.execution import scripts
from pipekit.pipelines.execution.interface import Execution
from pipekit.pipelines.model import Command, Pipe
from pipekit.pipelines.runcontext import RunContext
from pipekit.pipelines.services import expand


@dataclass
class ScriptOutcome:
    script: int
    after: int | None = None
    failing_command: str | None = None
    commands_s: float = 0.0
    notes: list[str] = field(default_factory=list)


class ScriptRunner:
    def __init__(
        self,
        ctx: RunContext,
        execution: Execution,
        runner: CommandRunner,
        folder: Path,
        clone: Path,
        env: dict[str, str],
        container_name: str,
    ) -> None:
        self.ctx = ctx
        self.execution = execution
        self.commands = runner
        self.folder = folder  # the step's runner folder on this machine
        self.clone = clone
        self.env = env
        self.container_name = container_name
        self.commands_s = 0.0

    def run(self, script: tuple[Command, ...], after: tuple[Command, ...]) -> ScriptOutcome:
        if not any(isinstance(c, Pipe) for c in (*script, *after)):
            return self._together(script, after)
        code = self._segments(script, None, "script")
        failing = self.commands.last_command
        after_code = None
        if after:
            self.commands.line("after-script:")
            after_code = self._segments(after, code, "after")
        return ScriptOutcome(code, after_code, failing, self.commands_s)

    def _together(self, script: tuple[Command, ...], after: tuple[Command, ...]) -> ScriptOutcome:
        script_path, script_status, output = self._paths("script.sh")
        args = [script_path, script_status, output, ""]
        self._write("script.sh", script)
        if after:
            self._write("after.sh", after)
            args += self._paths("after.sh")[:2]
        code, wall = self._wrapper(args, "script.sh.out")
        recorded, took = scripts.read_status(self.folder / "script.sh.status")
        outcome = ScriptOutcome(code if recorded is None else recorded)
        if outcome.script != 0:
            outcome.failing_command = self._last_script_command
        spent = took or 0.0
        if after:
            outcome.after, after_took = scripts.read_status(self.folder / "after.sh.status")
            spent += after_took or 0.0
        outcome.commands_s = spent if took is not None else wall
        return outcome

    @property
    def _last_script_command(self) -> str | None:
        """The last ``+ command`` the script printed (the after-script's come after the marker line)."""
        return self.commands.command_before_marker or self.commands.last_command

    def _segments(self, commands: tuple[Command, ...], exit_code: int | None, kind: str) -> int:
        segments: list[list[str] | Pipe] = []
        for command in commands:
            if isinstance(command, Pipe):
                segments.append(command)
            elif segments and isinstance(segments[-1], list):
                segments[-1].append(command)
            else:
                segments.append([command])
        for n, segment in enumerate(segments):
            if isinstance(segment, Pipe):
                code = self._pipe(segment)
            else:
                name = f"{kind}-{n}.sh"
                self._write(name, tuple(segment))
                code, wall = self._wrapper(
                    self._paths(name) + ["" if exit_code is None else str(exit_code)], f"{name}.out"
                )
                recorded, took = scripts.read_status(self.folder / f"{name}.status")
                self.commands_s += took if took is not None else wall
                code = code if recorded is None else recorded
            if code != 0:
                return code
        return 0

    def _write(self, name: str, commands: tuple[Command, ...]) -> None:
        lines = [c for c in commands if isinstance(c, str)]
        scripts.write_private(self.folder / name, scripts.script(lines), 0o644)

    def _paths(self, name: str) -> list[str]:
        """[script, its status record, its output file] as the step sees them."""
        inside = self.execution.runner_path()
        return [f"{inside}/{name}", f"{inside}/{name}.status", f"{inside}/{name}.out"]

    def _wrapper(self, args: list[str], output: str) -> tuple[int, float]:
        """The wrapper with [script, status, output, exit code, after-script, its status]."""
        argv, env = self.execution.argv(args)
        return self.commands.execute(argv, env, self.clone, self.folder / output)

    def _pipe(self, pipe: Pipe) -> int:
        local = self.ctx.pipe_image(pipe.pipe)
        config = self.ctx.image_config(local) if local else None
        if local is None or config is None:
            raise CheckFailed(f"pipe {pipe.pipe}: no local image for it")
        self.commands.line(f"+ pipe: {pipe.pipe} (local image {local})")
        tool = self.ctx.tool
        container = tool.create(local, f"{self.container_name}-pipe")
        try:
            argv = tool.run_argv(
                container,
                [*config.entrypoint, *config.cmd],
                mounts=[(str(self.clone), self.execution.clone_dir)],
                workdir=self.execution.clone_dir,
            )
            values = {k: v for k, v in self.env.items() if k.startswith("BITBUCKET_") or k == "CI"}
            for key, value in pipe.variables.items():
                if isinstance(value, list):
                    values[f"{key}_COUNT"] = str(len(value))
                    values.update({f"{key}_{i}": expand(str(v), self.env) for i, v in enumerate(value)})
                else:
                    values[key] = expand(str(value), self.env)
            argv = argv[:2] + [a for k, v in values.items() for a in ("-e", f"{k}={v}")] + argv[2:]
            code, wall = self.commands.execute(argv, None, self.clone)
            self.commands_s += wall
            return code
        finally:
            tool.remove(container)
