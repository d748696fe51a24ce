"""One step, start to end, as Bitbucket runs it.

Set-up: the image (pulling an ``aws: oidc-role`` image needs ``oidc: true``), a fresh clone, the
step's container and its docker service (these three at once: none needs another), then the
artifacts of earlier steps, the caches and the other services. Then ``script`` in one shell,
stopping at the first failing command, and ``after-script`` whatever happened, with
``BITBUCKET_EXIT_CODE`` (its failure is logged and does not change the step's result, as
Atlassian documents); ``max-time`` over both. Teardown: the declared artifacts, the caches (only
after success, only where none exists). Everything the step made is removed at the end, except
its log (and, with ``--keep``, its clone).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

from pipekit.core import signals
from pipekit.core.errors import CheckFailed, Interrupted
from pipekit.pipelines import caches, cloning, defaults, oidc
from pipekit.pipelines.artifacts import match
from pipekit.pipelines.commands import CommandRunner, StepTimedOut, Stopped
from pipekit.pipelines.execution import scripts
from pipekit.pipelines.execution.host import HostExecution
from pipekit.pipelines.execution.image import ImageExecution
from pipekit.pipelines.execution.interface import Execution
from pipekit.pipelines.model import DEFAULT_IMAGE, CacheDef, Image, Pipe, ServiceDef
from pipekit.pipelines.plan import PlannedStep
from pipekit.pipelines.results import StepResult
from pipekit.pipelines.runcontext import RunContext, StepLog
from pipekit.pipelines.running import ScriptRunner
from pipekit.pipelines.services import StepServices

MINUTE_S = 60.0  # max-time is in minutes (a test shortens this)


class StepRun:
    def __init__(
        self,
        ctx: RunContext,
        planned: PlannedStep,
        earlier: list[str],
        *,
        prefix: str = "",
        stop: threading.Event | None = None,
    ) -> None:
        self.ctx = ctx
        self.planned = planned
        self.step = planned.step
        self.earlier = earlier
        self.stop = stop or ctx.stopping
        self.dir = ctx.workdir / "steps" / planned.key
        self.clone = self.dir / "clone"
        self.result = StepResult(planned.number, planned.label, planned.key, deployment=planned.deployment)
        self.prefix = prefix
        self.name = f"pipekit-run-{ctx.run_id}-{planned.number:02d}"
        self.execution: Execution | None = None
        self.services = StepServices(self.name, ctx.local_image, ctx.tool)
        self.cache_places: list[tuple[CacheDef, str, Path]] = []
        self.mounts: list[Path] = []  # overlay mounts of restored caches, undone at the end
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
        self.commands = CommandRunner(
            self.log.line,
            deadline=started + max_time * MINUTE_S,
            max_time_min=max_time,
            stopped=self._stopped,
        )
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
            self._fail(
                "stopped",
                "the run was stopped"
                if self.ctx.stopping.is_set()
                else "another step of its parallel group failed (fail-fast)",
            )
        finally:
            with self._phase("clean-up"), signals.deferred():  # a second signal waits for the clean-up
                self._clean_up()
            self.result.duration_s = round(time.monotonic() - started, 3)
            self.log.close()
        return self.result

    def _run(self) -> None:
        image = self.planned.image(self.ctx.file) or Image(DEFAULT_IMAGE)
        self.result.image = image.name
        if image.aws_oidc_role and not self.step.oidc:
            raise CheckFailed(
                f"Bitbucket pulls the image {image.name} with the step's OIDC token (image aws: "
                "oidc-role) and this step has no 'oidc: true': the image pull would fail"
            )
        self._check_pipes()
        self._check_stop()
        self.execution = self._execution(image)
        wanted = [
            self.ctx.file.services.get(n) or ServiceDef(n, None, docker=True) for n in self._service_names()
        ]
        self.result.services = [s.name for s in wanted]
        setup: list[Callable[[], None]] = [self._clone, self._prepare]
        if any(s.docker for s in wanted):
            setup.append(self._start_docker)
        self._together(setup)
        with self._phase("artifacts"):
            restored = self.ctx.store.restore(self.earlier, self.step.artifacts.download, self.clone)
        self.result.artifacts_restored = len(restored)
        if restored:
            self.log.line(f"artifacts: {len(restored)} file(s) restored from earlier steps")
        with self._phase("caches"):
            self._restore_caches()
        self.env = self._environment(bool(wanted))
        self._check_stop()
        with self._phase("services"):
            self.env = {**self.services.attach(self.execution), **self.env}
            self.services.start_containers(wanted, self.env, self.log.line)
        self._write_runner()
        with self._phase("script"):
            runner = ScriptRunner(
                self.ctx, self.execution, self.commands, self.dir / "runner", self.clone, self.env, self.name
            )
            outcome = runner.run(self.step.script, self.step.after_script)
        self.result.commands_s = round(outcome.commands_s, 3)
        self.result.exit_code, self.result.after_script_exit_code = outcome.script, outcome.after
        if outcome.after not in (None, 0):
            self.log.line(
                f"after-script failed (exit {outcome.after}): the step's result stays as the script left it"
            )
        if outcome.script != 0:
            what = f"`{outcome.failing_command}` exited" if outcome.failing_command else "exit"
            raise CheckFailed(f"script failed: {what} {outcome.script}")
        self.result.status = "passed"
        with self._phase("artifacts"):
            self._keep_artifacts(True)
        with self._phase("caches"):
            self._save_caches()

    def _together(self, tasks: list[Callable[[], None]]) -> None:
        """Run independent set-up tasks at once; every one ends before this returns or raises."""
        pool = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="pipekit-setup")
        futures: list[Future[None]] = [pool.submit(task) for task in tasks]
        try:
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                if any(f.done() and f.exception() for f in futures):
                    break
        finally:
            pool.shutdown(wait=True)  # a signal waits for them too, so that clean-up sees what they made
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            spent = time.monotonic() - began
            self.result.phases[name] = round(self.result.phases.get(name, 0.0) + spent, 3)

    def _fail(self, status: str, reason: str) -> None:
        self.result.status = status
        self.result.reason = reason
        self.log.line(f"{status}: {reason}")
        if self.execution is not None and self.clone.is_dir():
            try:
                self._keep_artifacts(False)
            except OSError as exc:
                self.log.line(f"artifacts of the failed step not kept: {exc}")

    def _stopped(self) -> bool:
        return self.stop.is_set() or self.ctx.stopping.is_set()

    def _check_stop(self) -> None:
        if self._stopped():
            raise Stopped()

    # -- set-up ----------------------------------------------------------------------------
    def _check_pipes(self) -> None:
        for command in (*self.step.script, *self.step.after_script):
            if isinstance(command, Pipe) and self.ctx.pipe_image(command.pipe) is None:
                raise CheckFailed(
                    f"pipe {command.pipe}: pipes are not run locally without a local image for them",
                    hint=f"--image-map {command.pipe}=LOCAL_IMAGE",
                )

    def _execution(self, image: Image) -> Execution:
        local = self.ctx.local_image(image.name)
        config = self.ctx.image_config(local) if local else None
        if local is None or config is None:
            warning = (
                f"image {image.name} is not a local image: the step ran on this machine and the image's "
                "tool set was not checked"
            )
            self.result.warnings.append(warning)
            self.log.line("WARNING: " + warning)
            self.result.execution = "host"
            return HostExecution(self.dir, self.clone, self.ctx.host_env)
        self.result.execution = "image"
        self.result.local_image = local
        self.log.line(f"image: {image.name}" + (f" (local image {local})" if local != image.name else ""))
        return ImageExecution(
            self.dir,
            self.clone,
            image=local,
            config=config,
            user=image.run_as_user,
            name=self.name,
            tool=self.ctx.tool,
            known=self.ctx.users.get(local),
        )

    def _clone(self) -> None:
        home = self.dir / "git-home"
        home.mkdir()
        with self._phase("clone"):
            assert self.ctx.seeds is not None
            self.log.line(
                self.ctx.seeds.clone(
                    self.ctx.repo,
                    self.ctx.commit,
                    self.clone,
                    settings=self.planned.clone(self.ctx.file),
                    trigger=self.ctx.trigger,
                    branch=self.ctx.branch,
                    env=cloning.git_env(self.ctx.host_env, home),
                )
            )

    def _prepare(self) -> None:
        assert self.execution is not None
        with self._phase("image"):
            self.execution.prepare()
        if isinstance(self.execution, ImageExecution) and self.execution.home:
            self.ctx.users[self.execution.image] = (self.execution.home, self.execution.uid)

    def _start_docker(self) -> None:
        with self._phase("services"):
            self.services.start_docker()
        self.log.line("service docker: a Docker API daemon of this step's own (podman), empty")

    def _restore_caches(self) -> None:
        assert self.execution is not None
        for name in self.step.caches:
            cache = caches.definition(name, self.ctx.file.caches)
            assert cache is not None  # plan.check refused undefined caches
            if cache.predefined and name == "docker":
                self.result.caches[name] = "not emulated"
                continue
            place = caches.place(
                cache,
                clone=self.clone,
                home=self.dir / "home",
                scratch=self.dir / "cachemounts",
                container_home=self.execution.home,
            )
            if place is None:
                self.result.caches[name] = "skipped"
                self.result.warnings.append(
                    f"cache {name} ({cache.path}): an absolute path is only used inside "
                    "an image, not on this machine"
                )
                continue
            version = self.ctx.caches.version(cache, self.clone)
            found, mounted = self.ctx.caches.restore(
                cache, version, place.host, self.dir / "overlays" / name, owner=self._uid()
            )
            if mounted is not None:
                self.mounts.append(mounted)
            if place.mount:
                place.host.mkdir(parents=True, exist_ok=True)
                if self._uid():
                    os.chown(place.host, self._uid(), -1)
                self.execution.mount(place.host, place.mount)
            self.result.caches[name] = "restored" if found else "missing"
            self.log.line(f"cache {name}: " + ("restored" if found else "none yet"))
            self.cache_places.append((cache, version, place.host))

    def _environment(self, services: bool) -> dict[str, str]:
        assert self.execution is not None
        ctx, planned = self.ctx, self.planned
        step_uuid = defaults.braced(uuid.uuid4())
        env = defaults.run_variables(ctx.info)
        parallel = (
            (planned.parallel_index, planned.parallel_count or 0)
            if planned.parallel_index is not None
            else None
        )
        env.update(
            defaults.step_variables(
                step_uuid=step_uuid,
                clone_dir=self.execution.clone_dir,
                parallel=parallel,
                deployment=planned.deployment,
                repo=ctx.info.repository,
                services=services,
            )
        )
        variables = ctx.variables
        for scope in (
            variables.workspace,
            variables.repository,
            ctx.custom,
            variables.deployments.get(planned.deployment or "", {}),
        ):
            env.update({name: v.value for name, v in scope.items()})
        if self.step.oidc:
            repo = ctx.info.repository
            env["BITBUCKET_STEP_OIDC_TOKEN"] = oidc.token(
                workspace=repo.workspace,
                workspace_uuid=repo.workspace_uuid,
                repository_uuid=repo.uuid,
                pipeline_uuid=ctx.info.pipeline_uuid,
                step_uuid=step_uuid,
                branch=ctx.branch,
                environment_uuid=env.get("BITBUCKET_DEPLOYMENT_ENVIRONMENT_UUID"),
            )
        return env

    def _service_names(self) -> list[str]:
        names = list(self.step.services)
        if self.ctx.file.docker_everywhere and "docker" not in names:
            names.append("docker")
        return names

    def _write_runner(self) -> None:
        assert self.execution is not None
        runner = self.dir / "runner"
        scripts.write_private(runner / "run.sh", scripts.WRAPPER, 0o755)
        scripts.write_private(runner / "env.sh", scripts.environment(self.env))
        uid = self._uid()
        if uid:  # a step that runs as another user than root owns its clone and its runner folder
            for folder in (runner, self.clone):
                for path in (folder, *folder.rglob("*")):
                    os.lchown(path, uid, -1)

    def _uid(self) -> int:
        return self.execution.uid if isinstance(self.execution, ImageExecution) else 0

    # -- teardown --------------------------------------------------------------------------
    def _keep_artifacts(self, succeeded: bool) -> None:
        kept = self.ctx.store.collect(self.planned.key, self.step.artifacts, self.clone, succeeded)
        self.result.artifacts = kept.all_files()
        if kept.files:
            self.log.line(f"artifacts: kept {len(self.result.artifacts)} file(s)")
        for pattern in (
            *self.step.artifacts.paths,
            *(p for u in self.step.artifacts.uploads for p in u.paths),
        ):
            if succeeded and not match((pattern,), self.clone):
                self.log.line(f"artifacts: nothing matches {pattern!r}")

    def _save_caches(self) -> None:
        for cache, version, host in self.cache_places:
            outcome = self.ctx.caches.save(cache, version, host)
            self.result.caches[cache.name] = f"{self.result.caches[cache.name]}, {outcome}"
            self.log.line(
                f"cache {cache.name}: "
                + {"saved": "saved", "exists": "exists already, not replaced", "empty": "nothing to save"}[
                    outcome
                ]
            )

    def _clean_up(self) -> None:
        errors: list[str] = []
        closing: list[Callable[[], None]] = [self.services.stop]
        if self.execution is not None:
            closing.append(self.execution.close)
        threads = [threading.Thread(target=_noting(action, errors)) for action in closing]
        for thread in threads:  # the container and the docker service go at once
            thread.start()
        for thread in threads:
            thread.join()
        (self.dir / "runner" / "env.sh").unlink(missing_ok=True)
        for raw in (self.dir / "runner").glob("*.out"):  # unmasked output: the log holds it masked
            raw.unlink(missing_ok=True)
        for mounted in self.mounts:
            self.ctx.caches.unmount(mounted)
        self.mounts.clear()
        gone = ["home", "tmp", "cachemounts", "git-home", "overlays"] + ([] if self.ctx.keep else ["clone"])
        for name in gone:
            shutil.rmtree(self.dir / name, ignore_errors=True)
        for error in errors:
            self.log.line(f"clean-up: {error}")


def _noting(action: Callable[[], None], errors: list[str]) -> Callable[[], None]:
    def run() -> None:
        try:
            action()
        except Exception as exc:  # keep cleaning up; say what was left
            errors.append(str(exc))

    return run
