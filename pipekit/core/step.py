"""The step contract: what every step gets (:class:`StepContext`) and how its CLI runs.

A step module has an options dataclass (the declaration, :mod:`pipekit.core.options`),
``run(options, ctx) -> Result`` (the library API), ``options_from(ctx, flags) -> Options`` and a
thin click command ``main`` decorated with :func:`step_command`, which adds the shared flags
(``--json``, ``--debug``, ``--run-record``, ``--config``), the declared flags, and turns errors,
crashes and signals into the exit codes of :mod:`pipekit.core.errors`::

    @step_command("update-tag", UpdateTagOptions, help="...")
    def main(ctx: StepContext, flags: dict[str, Any]) -> UpdateTagResult:
        return run(options_from(ctx, flags), ctx)
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pipekit.core.errors import ExitCode, Interrupted, PipekitError
from pipekit.core.options import given_flags, table_of

if TYPE_CHECKING:  # imported lazily at run time: `pipekit <step> --help` stays quick
    from pipekit.core.config import Config
    from pipekit.core.console import Console
    from pipekit.core.context import PipelineContext
    from pipekit.core.runrecord import RunRecord

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class StepContext:
    """Everything a step reads besides its own options."""

    pipeline: PipelineContext
    config: Config
    record: RunRecord
    console: Console
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def create(
        cls,
        *,
        config_path: str | os.PathLike[str] | None = None,
        run_record: str | os.PathLike[str] | None = None,
        json_mode: bool = False,
        debug: bool | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> StepContext:
        from pipekit.core import config as config_mod
        from pipekit.core import masking
        from pipekit.core.console import Console, setup_logging
        from pipekit.core.context import PipelineContext
        from pipekit.core.runrecord import RunRecord

        e = dict(os.environ if env is None else env)
        masking.load_from_env(e)
        if debug is None:
            from pipekit.core.parse import parse_bool

            debug = bool(e.get("PIPEKIT_DEBUG")) and parse_bool(
                e["PIPEKIT_DEBUG"], "environment variable PIPEKIT_DEBUG"
            )
        setup_logging(debug)
        return cls(
            pipeline=PipelineContext.from_env(e, cwd=cwd),
            config=config_mod.load(config_path, e),
            record=RunRecord.load(run_record or e.get("PIPEKIT_RUN_RECORD")),
            console=Console(json_mode=json_mode, debug=debug),
            env=e,
        )

    @property
    def service(self) -> str | None:
        return self.config.get("service") or self.pipeline.service

    def environment(self, flag: str | None = None) -> str | None:
        """The target environment: the flag, else ``PIPEKIT_ENV`` (or ``PIPEKIT_ENVIRONMENT``)."""
        return flag or self.env.get("PIPEKIT_ENV") or self.env.get("PIPEKIT_ENVIRONMENT") or None


def to_jsonable(result: Any) -> Any:
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


def step_command(
    name: str, declared: type | None = None, **click_kwargs: Any
) -> Callable[[F], click.Command]:
    """Make a click command for step ``name`` with the shared flags and the options' flags.

    ``declared`` is the step's options dataclass (its :func:`~pipekit.core.options.option` fields).
    The decorated function receives ``ctx: StepContext`` and ``flags``:
    only the options given on the command line, by name, for
    :func:`~pipekit.core.options.resolve`. It returns the step result (a dataclass or dict),
    which ``--json`` prints on stdout. The command keeps the table as ``command.option_table``.
    """
    table = table_of(declared) if declared is not None else None

    def decorate(fn: F) -> click.Command:
        body: Callable[..., Any] = fn
        if table is not None:

            @functools.wraps(fn)
            def with_flags(ctx: StepContext, **params: Any) -> Any:
                return fn(ctx, given_flags(click.get_current_context(), table, params))

            body = table.decorate(with_flags)

        @click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON on stdout.")
        @click.option(
            "--debug", is_flag=True, default=None, help="Debug logs on stderr (also PIPEKIT_DEBUG=1)."
        )
        @click.option(
            "--run-record",
            type=click.Path(dir_okay=False),
            default=None,
            help="Run record file [env PIPEKIT_RUN_RECORD; default .pipekit/run.json].",
        )
        @click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            default=None,
            help="pipekit.yaml to read [env PIPEKIT_CONFIG; default ./pipekit.yaml if present].",
        )
        @functools.wraps(body)
        def wrapper(
            json_mode: bool,
            debug: bool | None,
            run_record: str | None,
            config_path: str | None,
            **kwargs: Any,
        ) -> None:
            code = run_cli(
                body, kwargs, json_mode=json_mode, debug=debug, run_record=run_record, config_path=config_path
            )
            # A CLI process ends here: move what is alive out of the collector's sight so the
            # interpreter's final collection does not walk every loaded module's objects.
            import gc

            gc.freeze()
            sys.exit(int(code))

        command: click.Command = click.command(name, **click_kwargs)(wrapper)  # type: ignore[no-untyped-call]
        command.option_table = table  # type: ignore[attr-defined]  # the declared options, for docs and schema
        return command

    return decorate


def run_cli(
    fn: Callable[..., Any],
    kwargs: dict[str, Any],
    *,
    json_mode: bool = False,
    debug: bool | None = None,
    run_record: str | None = None,
    config_path: str | None = None,
) -> ExitCode:
    """Build the context, run the step body, map errors to exit codes with masked one-line messages."""
    from pipekit import _run_as_cli
    from pipekit.core import masking, process, signals
    from pipekit.core.console import Console

    _run_as_cli()  # `python -m pipekit.<step>`: what it imports lazily (yaml, gates) is never the cwd's
    masking.load_from_env()
    signals.install()
    console = Console(json_mode=json_mode, debug=bool(debug))
    try:
        ctx = StepContext.create(
            config_path=config_path, run_record=run_record, json_mode=json_mode, debug=debug
        )
        console = ctx.console
        result = fn(ctx, **kwargs)
    except PipekitError as exc:
        console.error(str(exc))
        if json_mode:
            payload = {"ok": False, "exit_code": int(exc.exit_code), "error": str(exc)}
            partial = getattr(exc, "result", None)
            if partial is not None:
                payload["result"] = to_jsonable(partial)
            console.result(payload)
        return exc.exit_code
    except (Interrupted, KeyboardInterrupt) as exc:
        stop = exc if isinstance(exc, Interrupted) else Interrupted()
        stuck = process.stop_all()  # repeated signals are held until here (signals.unwinding)
        children = (
            f"child process(es) {', '.join(map(str, stuck))} did not end even after SIGKILL"
            if stuck
            else "child processes ended"
        )
        again = (
            f" ({len(signals.repeated)} more signal(s) held until the clean-up ended)"
            if signals.repeated
            else ""
        )
        console.error(f"{stop}: stopped, {children}, temporary files removed{again}")
        if json_mode:
            console.result({"ok": False, "exit_code": int(stop.exit_code), "error": str(stop)})
        signals.reset()
        return stop.exit_code
    except Exception as exc:  # a bug: show a masked traceback in debug, one line otherwise
        import traceback

        if console.debug_enabled:
            sys.stderr.write(masking.mask("".join(traceback.format_exception(exc))))
        console.error(
            masking.mask(f"pipekit itself failed: {type(exc).__name__}: {exc}")
            + " (a bug: rerun with --debug and report it with the traceback)"
        )
        if json_mode:
            console.result({"ok": False, "exit_code": int(ExitCode.BUG), "error": masking.mask(str(exc))})
        return ExitCode.BUG
    if json_mode:
        console.result(to_jsonable(result))
    return ExitCode.OK
