"""The step contract: what every step gets (:class:`StepContext`) and how its CLI runs.

A step module has an options dataclass, ``run(options, ctx) -> Result`` (the library API)
and a thin click command ``main`` decorated with :func:`step_command`, which adds the shared
flags (``--json``, ``--debug``, ``--run-record``, ``--config``) and turns errors into exit codes.
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

from pipekit.core.errors import ExitCode, PipekitError

if TYPE_CHECKING:  # imported lazily at run time: `pipekit <step> --help` stays quick
    from pipekit.core.config import Config
    from pipekit.core.console import Console
    from pipekit.core.context import PipelineContext
    from pipekit.core.runrecord import RunRecord

_LAZY = {
    "config_mod": ("pipekit.core.config", None),
    "masking": ("pipekit.core.masking", None),
    "Config": ("pipekit.core.config", "Config"),
    "Console": ("pipekit.core.console", "Console"),
    "setup_logging": ("pipekit.core.console", "setup_logging"),
    "PipelineContext": ("pipekit.core.context", "PipelineContext"),
    "RunRecord": ("pipekit.core.runrecord", "RunRecord"),
}


def __getattr__(name: str) -> Any:
    """The names this module used to import eagerly, still importable from here."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attr is None else getattr(module, attr)

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
            debug = e.get("PIPEKIT_DEBUG", "").lower() in ("1", "true", "yes")
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
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return result


def step_command(name: str, **click_kwargs: Any) -> Callable[[F], click.Command]:
    """Make a click command for step ``name`` with the shared flags.

    The decorated function receives ``ctx: StepContext`` first, then its own options, and
    returns the step result (a dataclass or dict), which ``--json`` prints on stdout.
    """

    def decorate(fn: F) -> click.Command:
        @click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON on stdout.")
        @click.option("--debug", is_flag=True, default=None, help="Debug logs on stderr (also PIPEKIT_DEBUG=1).")
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
        @functools.wraps(fn)
        def wrapper(json_mode: bool, debug: bool | None, run_record: str | None, config_path: str | None, **kwargs: Any) -> None:
            code = run_cli(fn, kwargs, json_mode=json_mode, debug=debug, run_record=run_record, config_path=config_path)
            # A CLI process ends here: move what is alive out of the collector's sight so the
            # interpreter's final collection does not walk every loaded module's objects.
            import gc

            gc.freeze()
            sys.exit(int(code))

        return click.command(name, **click_kwargs)(wrapper)

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
    from pipekit.core import masking
    from pipekit.core.console import Console

    masking.load_from_env()
    console = Console(json_mode=json_mode, debug=bool(debug))
    try:
        ctx = StepContext.create(config_path=config_path, run_record=run_record, json_mode=json_mode, debug=debug)
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
    except KeyboardInterrupt:
        console.error("interrupted")
        return ExitCode.FAILED
    except Exception as exc:  # a bug: show a masked traceback in debug, one line otherwise
        import traceback

        if console.debug_enabled:
            sys.stderr.write(masking.mask("".join(traceback.format_exception(exc))))
        console.error(f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return ExitCode.FAILED
    if json_mode:
        console.result(to_jsonable(result))
    return ExitCode.OK
