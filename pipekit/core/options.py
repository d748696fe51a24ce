"""Options, declared once per step and resolved one way: flag > environment > pipekit.yaml > default.

A step lists its options in an :class:`OptionTable`: the flag, the environment variables, the
``pipekit.yaml`` key, the type, the default and the help. :func:`pipekit.core.step.step_command`
turns the table into click parameters whose values reach the step only when given on the
command line (a flag left out is absent, never its default), and :meth:`OptionTable.resolve`
applies the precedence and the one parser per type of :mod:`pipekit.core.parse`. A bad value is
exit 2 naming its source: ``flag --timeout``, ``environment variable PIPEKIT_NOTIFY_TIMEOUT`` or
``pipekit.yaml:12 (notify.timeout)``.

Secrets (``secret=True``) have no flag: a flag lands in shell history and in ``ps``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipekit.core import parse
from pipekit.core.errors import BadInput

if TYPE_CHECKING:
    import click

    from pipekit.core.config import Config

TYPES = ("str", "bool", "int", "float", "choice", "list", "path", "data")  # data: a pipekit.yaml mapping or list, as is


@dataclass(frozen=True)
class Option:
    name: str  # the Python name (the options dataclass field)
    flag: str | None = None  # "--gitops-repo"; "--stream/--no-stream" for an explicit pair
    env: str | tuple[str, ...] = ()  # variables, first set wins
    config: str | None = None  # dotted pipekit.yaml key
    type: str = "str"
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # an exclusive lower bound: a timeout must be more than 0
    multiple: bool = False  # a repeatable flag (a tuple)
    argument: bool = False  # positional arguments (with multiple: everything after the options, or after --)
    secret: bool = False
    short: str | None = None  # "-r"
    metavar: str | None = None
    hidden: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"option {self.name}: unknown type {self.type!r}")
        if self.secret and self.flag:
            raise ValueError(f"option {self.name}: a secret has no flag (environment or file only)")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"option {self.name}: a choice needs choices")
        if self.type == "data" and (self.flag or self.env):
            raise ValueError(f"option {self.name}: a data option comes from pipekit.yaml only")

    @property
    def env_names(self) -> tuple[str, ...]:
        return (self.env,) if isinstance(self.env, str) else tuple(self.env)

    @property
    def flag_names(self) -> tuple[str, ...]:
        if not self.flag:
            return ()
        return tuple(part for part in self.flag.split("/") if part)

    @property
    def primary_flag(self) -> str:
        return self.flag_names[0] if self.flag_names else self.name

    def parse(self, value: Any, where: str) -> Any:
        """Turn one raw value (a string from a flag or variable, or a YAML value) into this option's type."""
        if value is None:
            return None
        if self.type == "data":
            return value
        if self.multiple or self.type == "list":
            items = parse.parse_list(value, where) if self.type == "list" or isinstance(value, str) else tuple(value)
            return tuple(self._parse_one(item, where) for item in items)
        return self._parse_one(value, where)

    def _parse_one(self, value: Any, where: str) -> Any:
        if self.type == "bool":
            return parse.parse_bool(value, where)
        if self.type == "int":
            return parse.parse_int(value, where, minimum=self.minimum, maximum=self.maximum, above=self.above)
        if self.type == "float":
            return parse.parse_float(value, where, minimum=self.minimum, maximum=self.maximum, above=self.above)
        if self.type == "choice":
            return parse.parse_choice(value, where, self.choices)
        if isinstance(value, (dict, list)):
            raise BadInput(f"{where}: expected a string, got {type(value).__name__}")
        return str(value)

    def describe_help(self) -> str:
        sources = [f"env {n}" for n in self.env_names]
        if self.config:
            sources.append(f"config {self.config}")
        if self.default not in (None, (), [], "") and not self.secret:
            sources.append(f"default {self.default}")
        if self.choices:
            sources.insert(0, "one of " + "|".join(self.choices))
        return self.help + (f" [{'; '.join(sources)}]" if sources else "")


class Values(dict[str, Any]):
    """Resolved values by option name, remembering where each came from."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: dict[str, str] = {}

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")

    def given(self, name: str) -> bool:
        """True when a flag, a variable or the file set it (not the default)."""
        return self.source(name) != "default"


@dataclass(frozen=True)
class OptionTable:
    options: tuple[Option, ...]

    def __init__(self, options: Iterable[Option]) -> None:
        opts = tuple(options)
        names = [o.name for o in opts]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"options declared twice: {sorted(dupes)}")
        object.__setattr__(self, "options", opts)

    def __iter__(self) -> Any:
        return iter(self.options)

    def __getitem__(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    def __add__(self, other: OptionTable | Iterable[Option]) -> OptionTable:
        return OptionTable((*self.options, *other))

    @property
    def env_names(self) -> set[str]:
        return {n for o in self.options for n in o.env_names}

    @property
    def config_keys(self) -> set[str]:
        return {o.config for o in self.options if o.config}

    # -- resolution -------------------------------------------------------------
    def resolve(self, ctx: Any, flags: Mapping[str, Any] | None = None) -> Values:
        """flag > environment > pipekit.yaml > default, each value parsed by its option's type.

        ``ctx`` is a :class:`~pipekit.core.step.StepContext` (anything with ``env`` and ``config``).
        """
        return self.resolve_from(flags or {}, ctx.env, ctx.config)

    def resolve_from(self, flags: Mapping[str, Any], env: Mapping[str, str], config: Config | None) -> Values:
        unknown = set(flags) - {o.name for o in self.options}
        if unknown:
            raise TypeError(f"unknown option names: {sorted(unknown)}")
        values = Values()
        for option in self.options:
            raw, where = _raw(option, flags, env, config)
            if where is None:
                values[option.name] = option.default
                continue
            values[option.name] = option.parse(raw, where)
            values.sources[option.name] = where
        return values

    # -- click ----------------------------------------------------------------
    def click_params(self) -> list[click.Parameter]:
        import click

        params: list[click.Parameter] = []
        for option in self.options:
            if option.argument:
                params.append(click.Argument([option.name], nargs=-1 if option.multiple else 1,
                                             required=False, metavar=option.metavar))
                continue
            if not option.flag:
                continue
            decls = ([option.short] if option.short else []) + [_decl(option), option.name]
            kwargs: dict[str, Any] = {"default": None, "help": option.describe_help(), "hidden": option.hidden}
            if option.type == "bool":
                if "/" not in _decl(option):
                    kwargs["is_flag"] = True
                    kwargs["flag_value"] = True
            else:
                kwargs["multiple"] = option.multiple
                kwargs["metavar"] = option.metavar or ("[" + "|".join(option.choices) + "]" if option.choices
                                                       else option.type.upper() if option.type != "str" else "TEXT")
            params.append(click.Option(decls, **kwargs))
        return params

    def decorate(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Attach the table's click parameters to a click callback."""
        existing = list(getattr(fn, "__click_params__", []))
        fn.__click_params__ = existing + list(reversed(self.click_params()))  # type: ignore[attr-defined]
        return fn


def _decl(option: Option) -> str:
    assert option.flag
    if option.type == "bool" and "/" not in option.flag and not option.flag.startswith("--no-"):
        return f"{option.flag}/--no-{option.flag[2:]}"
    return option.flag


def _raw(option: Option, flags: Mapping[str, Any], env: Mapping[str, str],
         config: Config | None) -> tuple[Any, str | None]:
    if option.name in flags and flags[option.name] is not None and flags[option.name] != ():
        label = "argument" if option.argument else f"flag {option.primary_flag}"
        return flags[option.name], label
    for name in option.env_names:
        value = env.get(name)
        if value is not None and value.strip() != "":
            return value, f"environment variable {name}"
    if option.config and config is not None:
        value = config.get(option.config)
        if value is not None:
            return value, f"{config.where(*option.config.split('.'))} ({option.config})"
    return None, None


def given_flags(click_ctx: click.Context, table: OptionTable, params: Mapping[str, Any]) -> dict[str, Any]:
    """The table's values that came from the command line (not click's defaults)."""
    from click.core import ParameterSource

    out: dict[str, Any] = {}
    for option in table.options:
        if option.name not in params:
            continue
        source = click_ctx.get_parameter_source(option.name)
        if source == ParameterSource.COMMANDLINE and params[option.name] not in (None, ()):
            out[option.name] = params[option.name]
    return out
