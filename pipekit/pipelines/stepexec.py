"""One step, start to end, as Bitbucket runs it.

Set-up: the image (pulling an ``aws: oidc-role`` image needs ``oidc: true``), a fresh clone,
the artifacts of earlier steps, the caches, the step's services; then ``script`` in one shell,
stopping at the first failing command; ``after-script`` whatever happened, with
``BITBUCKET_EXIT_CODE`` (its failure is logged and does not change the step's result, as
Atlassian documents); ``max-time`` over both. Teardown: the declared artifacts, the caches
(only after success, only where none exists). Everything the step made is removed at the end,
except its log (and, with ``--keep``, its clone).
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

from pipekit.core import process
from pipekit.core.errors import CheckFailed, Interrupted
from pipekit.pipelines import caches, cloning, defaults, oidc
from pipekit.pipelines.artifacts import match
from pipekit.pipelines.execution import scripts
from pipekit.pipelines.execution.host import HostExecution
from pipekit.pipelines.execution.image import ImageExecution
from pipekit.pipelines.execution.interface import Execution
from pipekit.pipelines.model import DEFAULT_IMAGE, CacheDef, Command, Image, Pipe
from pipekit.pipelines.plan import PlannedStep
from pipekit.pipelines.results import StepResult
from pipekit.pipelines.runcontext import RunContext, StepLog
from pipekit.pipelines.services import StepServices, expand

MINUTE_S = 60.0  # max-time is in minutes (a test shortens this)
BUILDAH_NOISE = re.compile(r"^(subprocess exited with status \d+|Error: exit status \d+)$")


class Stopped(Exception):
    """The step was stopped from outside (fail-fast, or the run was interrupted)."""


class StepTimedOut(CheckFailed):
    """The step ran past its max-time."""


class StepRun:
    def __init__(self, ctx: RunContext, planned: PlannedStep, earlier: list[str], *, prefix: str = "",
                 stop: threading.Event | None = None) -> None:
        self.ctx = ctx
        self.planned = planned
        self.step = planned.step
        self.earlier = earlier
        self.stop = stop or ctx.stopping
        self.dir = ctx.workdir / "steps" / planned.key
        self.clone = self.dir / "clone"
        self.result = StepResult(planned.number, planned.label, planned.key, deployment=planned.deployment)
        self.prefix = prefix
        self.execution: Execution | None = None
        self.services = StepServices(f"pipekit-run-{ctx.run_id}-{planned.number:02d}", ctx.local_image, ctx.tool)
        self.cache_places: list[tuple[CacheDef, str, Path]] = []
        self.mounts: list[Path] = []  # overlay mounts of restored caches, undone at the end
        self.deadline = 0.0
        self.commands_s = 0.0
        self.last_command: str | None = None
        self.env: dict[str, str] = {}

    # -- the step --------------------------------------------------------------------------
    def run(self) -> StepResult:
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "runner").mkdir(parents=True)
        self.clone.mkdir()
        self.log = StepLog(self.dir / "log.txt", self.ctx.console, self.prefix)
        self.result.log = str(self.log.path)
        started = time.monotonic()
        max_time = self.step.max_time or self.ctx.file.max_time
        self.deadline = started + max_time * MINUTE_S
        try:
            self._run()
        except StepTimedOut as exc:
            self._fail("timed-out", str(exc))
        except CheckFailed as exc:
            self._fail("failed", str(exc))
        except (Interrupted, KeyboardInterrupt):
            self.result.status, self.result.reason = "stopped", "interrupted by a signal"
            raise
        except Stopped:
            self._fail("stopped", "the run was stopped" if self.ctx.stopping.is_set()
                       else "another step of its parallel group failed (fail-fast)")
        finally:
            self._clean_up()
            self.result.duration_s = round(time.monotonic() - started, 3)
            self.result.commands_s = round(self.commands_s, 3)
            self.log.close()
        return self.result

    def _run(self) -> None:
        image = self.planned.image(self.ctx.file) or Image(DEFAULT_IMAGE)
        self.result.image = image.name
        if image.aws_oidc_role and not self.step.oidc:
            raise CheckFailed(f"Bitbucket pulls the image {image.name} with the step's OIDC token (image aws: "
                              "oidc-role) and this step has no 'oidc: true': the image pull would fail")
        self._check_pipes()
        self._check_stop()
        settings = self.planned.clone(self.ctx.file)
        home = self.dir / "git-home"
        home.mkdir()
        self.log.line(cloning.make(self.ctx.repo, self.ctx.commit, self.clone, settings=settings,
                                   trigger=self.ctx.trigger, branch=self.ctx.branch,
                                   env=cloning.git_env(self.ctx.host_env, home)))
        self.execution = self._execution(image)
        self.execution.prepare()
        restored = self.ctx.store.restore(self.earlier, self.step.artifacts.download, self.clone)
        self.result.artifacts_restored = len(restored)
        if restored:
            self.log.line(f"artifacts: {len(restored)} file(s) restored from earlier steps")
        self._restore_caches()
        self.env = self._environment()
        self._check_stop()
        self.env = {**self._start_services(), **self.env}
        self._write_runner()
        code = self._script(self.step.script, None)
        self.result.exit_code = code
        failing = self.last_command
        if self.step.after_script:
            after = self._script(self.step.after_script, code, after=True)
            self.result.after_script_exit_code = after
            if after != 0:
                self.log.line(f"after-script failed (exit {after}): the step's result stays as the script left it")
        if code != 0:
            what = f"`{failing}` exited {code}" if failing else f"exit {code}"
            raise CheckFailed(f"script failed: {what}")
        self.result.status = "passed"
        self._keep_artifacts(True)
        self._save_caches()

    def _fail(self, status: str, reason: str) -> None:
        self.result.status = status
        self.result.reason = reason
        self.log.line(f"{status}: {reason}")
        if self.execution is not None and self.clone.is_dir():
            try:
                self._keep_artifacts(False)
            except OSError as exc:
                self.log.line(f"artifacts of the failed step not kept: {exc}")

    # -- set-up ----------------------------------------------------------------------------
    def _check_pipes(self) -> None:
        for command in (*self.step.script, *self.step.after_script):
            if isinstance(command, Pipe) and self.ctx.pipe_image(command.pipe) is None:
                raise CheckFailed(f"pipe {command.pipe}: pipes are not run locally without a local image for them",
                                  hint=f"--image-map {command.pipe}=LOCAL_IMAGE")

    def _execution(self, image: Image) -> Execution:
        local = self.ctx.local_image(image.name)
        config = self.ctx.tool.image_config(local) if local else None
        if local is None or config is None:
            warning = (f"image {image.name} is not a local image: the step ran on this machine and the image's "
                       "tool set was not checked")
            self.result.warnings.append(warning)
            self.log.line("WARNING: " + warning)
            self.result.execution = "host"
            return HostExecution(self.dir, self.clone, self.ctx.host_env)
        self.result.execution = "image"
        self.result.local_image = local
        self.log.line(f"image: {image.name}" + (f" (local image {local})" if local != image.name else ""))
        return ImageExecution(self.dir, self.clone, image=local, config=config, user=image.run_as_user,
                              name=f"pipekit-run-{self.ctx.run_id}-{self.planned.number:02d}", tool=self.ctx.tool)

    def _restore_caches(self) -> None:
        assert self.execution is not None
        home = self.dir / "home"
        for name in self.step.caches:
            cache = caches.definition(name, self.ctx.file.caches)
            assert cache is not None  # plan.check refused undefined caches
            if cache.predefined and name == "docker":
                self.result.caches[name] = "not emulated"
                continue
            place = caches.place(cache, clone=self.clone, home=home, scratch=self.dir / "cachemounts",
                                 container_home=self.execution.home)
            if place is None:
                self.result.caches[name] = "skipped"
                self.result.warnings.append(f"cache {name} ({cache.path}): an absolute path is only used inside "
                                            "an image, not on this machine")
                continue
            version = self.ctx.caches.version(cache, self.clone)
            found, mounted = self.ctx.caches.restore(cache, version, place.host, self.dir / "overlays" / name)
            if mounted is not None:
                self.mounts.append(mounted)
            if place.mount:
                place.host.mkdir(parents=True, exist_ok=True)
                self.execution.mount(place.host, place.mount)
            self.result.caches[name] = "restored" if found else "missing"
            self.log.line(f"cache {name}: " + ("restored" if found else "none yet"))
            self.cache_places.append((cache, version, place.host))

    def _environment(self) -> dict[str, str]:
        assert self.execution is not None
        ctx, planned = self.ctx, self.planned
        step_uuid = defaults.braced(uuid.uuid4())
        env = defaults.run_variables(ctx.info)
        parallel = (planned.parallel_index, planned.parallel_count) if planned.parallel_index is not None else None
        env.update(defaults.step_variables(step_uuid=step_uuid, clone_dir=self.execution.clone_dir,
                                           parallel=parallel,  # type: ignore[arg-type]
                                           deployment=planned.deployment, repo=ctx.info.repository,
                                           services=bool(self._services())))
        variables = ctx.variables
        for scope in (variables.workspace, variables.repository, ctx.custom,
                      variables.deployments.get(planned.deployment or "", {})):
            env.update({name: v.value for name, v in scope.items()})
        if self.step.oidc:
            repo = ctx.info.repository
            env["BITBUCKET_STEP_OIDC_TOKEN"] = oidc.token(
                workspace=repo.workspace, workspace_uuid=repo.workspace_uuid, repository_uuid=repo.uuid,
                pipeline_uuid=ctx.info.pipeline_uuid, step_uuid=step_uuid, branch=ctx.branch,
                environment_uuid=env.get("BITBUCKET_DEPLOYMENT_ENVIRONMENT_UUID"))
        return env

    def _services(self) -> list[str]:
        names = list(self.step.services)
        if self.ctx.file.docker_everywhere and "docker" not in names:
            names.append("docker")
        return names

    def _start_services(self) -> dict[str, str]:
        assert self.execution is not None
        from pipekit.pipelines.model import ServiceDef

        wanted = [self.ctx.file.services.get(n) or ServiceDef(n, None, docker=True) for n in self._services()]
        self.result.services = [s.name for s in wanted]
        out = self.services.start(wanted, self.execution, self.env, self.log.line)
        if any(s.docker for s in wanted):
            self.log.line("service docker: a Docker API daemon of this step's own (podman), empty")
        return out

    def _write_runner(self) -> None:
        assert self.execution is not None
        runner = self.dir / "runner"
        scripts.write_private(runner / "run.sh", scripts.WRAPPER, 0o755)
        scripts.write_private(runner / "env.sh", scripts.environment(self.env))
        user = self.planned.image(self.ctx.file)
        if self.execution.kind == "image" and user is not None and user.run_as_user:
            for folder in (runner, self.clone):  # image run-as-user: the step's user owns its clone
                for path in (folder, *folder.rglob("*")):
                    os.lchown(path, user.run_as_user, -1)

    # -- running ---------------------------------------------------------------------------
    def _script(self, commands: tuple[Command, ...], exit_code: int | None, after: bool = False) -> int:
        """Run a script's segments (pipes run between them); the first failing one's exit status."""
        assert self.execution is not None
        segments: list[list[str] | Pipe] = []
        for command in commands:
            if isinstance(command, Pipe):
                segments.append(command)
            elif segments and isinstance(segments[-1], list):
                segments[-1].append(command)
            else:
                segments.append([command])
        if after:
            self.log.line("after-script:")
        for n, segment in enumerate(segments):
            self._check_stop()
            if isinstance(segment, Pipe):
                code = self._pipe(segment)
            else:
                name = f"{'after' if after else 'script'}-{n}.sh"
                scripts.write_private(self.dir / "runner" / name, scripts.script(segment), 0o644)
                code = self._wrapper(name, exit_code)
            if code != 0:
                return code
        return 0

    def _wrapper(self, name: str, exit_code: int | None) -> int:
        assert self.execution is not None
        inside = self.execution.runner_path()
        status, output = f"{name}.status", f"{name}.out"
        argv, env = self.execution.argv(f"{inside}/{name}", f"{inside}/{status}", exit_code, f"{inside}/{output}")
        code, wall = self._execute(argv, env, self.dir / "runner" / output)
        recorded, took = scripts.read_status(self.dir / "runner" / status)
        self.commands_s += took if took is not None else wall
        return code if recorded is None else recorded

    def _pipe(self, pipe: Pipe) -> int:
        assert self.execution is not None
        local = self.ctx.pipe_image(pipe.pipe)
        config = self.ctx.tool.image_config(local) if local else None
        if local is None or config is None:
            raise CheckFailed(f"pipe {pipe.pipe}: no local image {local}")
        self.log.line(f"+ pipe: {pipe.pipe} (local image {local})")
        container = self.ctx.tool.create(local, f"pipekit-run-{self.ctx.run_id}-{self.planned.number:02d}-pipe")
        try:
            argv = self.ctx.tool.run_argv(container, [*config.entrypoint, *config.cmd],
                                          mounts=[(str(self.clone), self.execution.clone_dir)],
                                          workdir=self.execution.clone_dir)
            values = {k: v for k, v in self.env.items() if k.startswith("BITBUCKET_") or k == "CI"}
            for key, value in pipe.variables.items():
                if isinstance(value, list):
                    values[f"{key}_COUNT"] = str(len(value))
                    values.update({f"{key}_{i}": expand(str(v), self.env) for i, v in enumerate(value)})
                else:
                    values[key] = expand(str(value), self.env)
            argv = argv[:2] + [a for k, v in values.items() for a in ("-e", f"{k}={v}")] + argv[2:]
            code, wall = self._execute(argv, None)
            self.commands_s += wall
            return code
        finally:
            self.ctx.tool.remove(container)

    def _execute(self, argv: list[str], env: dict[str, str] | None, output: Path | None = None) -> tuple[int, float]:
        """Run one command to its end, its output into the log; max-time and stops end it early."""
        began = time.monotonic()
        proc = process.start(argv, env=env, cwd=self.clone, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ended = threading.Event()
        readers = [threading.Thread(target=self._pump, args=(proc,), daemon=True)]
        if output is not None:
            readers.append(threading.Thread(target=self._follow, args=(output, ended), daemon=True))
        for reader in readers:
            reader.start()
        try:
            while proc.poll() is None:
                if self._stopped():
                    process.stop(proc)
                    raise Stopped()
                if time.monotonic() >= self.deadline:
                    process.stop(proc)
                    minutes = self.step.max_time or self.ctx.file.max_time
                    raise StepTimedOut(f"the step ran past its max-time of {minutes} minute(s) and was stopped")
                try:
                    proc.wait(0.05)
                except subprocess.TimeoutExpired:
                    pass
        except BaseException:
            process.stop(proc)
            raise
        finally:
            ended.set()
            for reader in readers:
                reader.join(5)
        process.forget(proc)
        return proc.returncode, time.monotonic() - began

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        """The tool's own output (buildah's messages; a pipe's whole output)."""
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if not BUILDAH_NOISE.match(line):
                self._line(line)

    def _follow(self, path: Path, ended: threading.Event) -> None:
        """The script's output file, line by line as it grows, to its end once the command has ended."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        handle = None
        try:
            while True:
                finished = ended.is_set()
                if handle is None and path.exists():
                    handle = path.open("rb")
                chunk = handle.read() if handle is not None else b""
                if chunk:
                    pending += decoder.decode(chunk)
                    *lines, pending = pending.split("\n")
                    for line in lines:
                        self._line(line)
                elif finished:
                    break
                else:
                    time.sleep(0.05)
        finally:
            if handle is not None:
                handle.close()
        pending += decoder.decode(b"", final=True)
        if pending:
            self._line(pending)

    def _line(self, line: str) -> None:
        if line.startswith("+ "):
            self.last_command = line[2:]
        self.log.line(line)

    def _stopped(self) -> bool:
        return self.stop.is_set() or self.ctx.stopping.is_set()

    def _check_stop(self) -> None:
        if self._stopped():
            raise Stopped()

    # -- teardown --------------------------------------------------------------------------
    def _keep_artifacts(self, succeeded: bool) -> None:
        kept = self.ctx.store.collect(self.planned.key, self.step.artifacts, self.clone, succeeded)
        self.result.artifacts = kept.all_files()
        if kept.files:
            self.log.line(f"artifacts: kept {len(self.result.artifacts)} file(s)")
        for pattern in (*self.step.artifacts.paths, *(p for u in self.step.artifacts.uploads for p in u.paths)):
            if succeeded and not match((pattern,), self.clone):
                self.log.line(f"artifacts: nothing matches {pattern!r}")

    def _save_caches(self) -> None:
        for cache, version, host in self.cache_places:
            outcome = self.ctx.caches.save(cache, version, host)
            self.result.caches[cache.name] = f"{self.result.caches[cache.name]}, {outcome}"
            self.log.line(f"cache {cache.name}: " + {"saved": "saved", "exists": "exists already, not replaced",
                                                     "empty": "nothing to save"}[outcome])

    def _clean_up(self) -> None:
        errors = []
        for action in (self.services.stop, self.execution.close if self.execution else None):
            if action is None:
                continue
            try:
                action()
            except Exception as exc:  # keep cleaning up; say what was left
                errors.append(str(exc))
        (self.dir / "runner" / "env.sh").unlink(missing_ok=True)
        for mounted in self.mounts:
            self.ctx.caches.unmount(mounted)
        self.mounts.clear()
        gone = ["home", "tmp", "cachemounts", "git-home", "overlays"] + ([] if self.ctx.keep else ["clone"])
        for name in gone:
            shutil.rmtree(self.dir / name, ignore_errors=True)
        for error in errors:
            self.log.line(f"clean-up: {error}")
