"""Options, declared once per step and resolved one way: flag > environment > pipekit.yaml > default.

The declaration is the step's options dataclass: each field made with :func:`option` carries its
flag, variables, ``pipekit.yaml`` key, bounds and help, and its type comes from the annotation
(``bool``, ``int``, ``float``, ``str``, ``Path``, a ``Literal`` of choices, a ``list`` of those for
a repeatable flag, a mapping for a ``pipekit.yaml``-only setting). :func:`table_of` derives its
:class:`OptionTable`, whose rows become the click parameters (:func:`pipekit.core.step.step_command`:
a flag left out is absent, never its default) and the ``pipekit.yaml`` schema
(:mod:`pipekit.core.config_schema`); :func:`resolve` builds the dataclass with the one parser per
type of :mod:`pipekit.core.parse`. A bad value is exit 2 naming its source: ``flag --timeout``,
``environment variable PIPEKIT_NOTIFY_TIMEOUT`` or ``pipekit.yaml:12 (notify.timeout)``. Secrets
(``secret=True``) have no flag: a flag lands in shell history and in ``ps``::

    @dataclass
    class NotifyOptions:
        timeout: float = option(10.0, flag="--timeout", env="PIPEKIT_NOTIFY_TIMEOUT",
                                config="notify.timeout", above=0, help="Seconds per request.")

    def options_from(ctx, flags) -> NotifyOptions:
        return resolve(NotifyOptions, ctx, flags).options
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Union

from pipekit.core import parse
from pipekit.core.errors import BadInput

if TYPE_CHECKING:
    import click

    from pipekit.core.config import Config

TYPES = (
    "str",
    "bool",
    "int",
    "float",
    "choice",
    "list",
    "path",
    "data",
)  # data: a pipekit.yaml mapping or list, as is


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
    multiple: bool | None = False  # a repeatable flag (a tuple); declared None: a list field's flag repeats
    argument: bool = False  # positional arguments (with multiple: everything after the options, or after --)
    secret: bool = False
    short: str | None = None  # "-r"
    metavar: str | None = None
    hidden: bool = False
    # more of the pipekit.yaml value's JSON schema: a pattern, lengths, a mapping's structure
    # (or a function making it when the schema is generated, for a structure derived from other code)
    schema: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = dataclasses.field(
        default=None, compare=False
    )
    # as declared on a field (see option()):
    comma: bool = False  # a list field: a flag value is split at commas too (``--environments dev,qa``)
    required: str | None = None  # missing: exit 2 "missing option --flag: <this>"
    kind: Any = dataclasses.field(default=None, compare=False)  # what it reads, when not the field's type
    convert: Callable[[Any], Any] | None = dataclasses.field(default=None, compare=False)

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
            items = (
                parse.parse_list(value, where)
                if self.type == "list" or isinstance(value, str)
                else tuple(value)
            )
            return tuple(self._parse_one(item, where) for item in items)
        return self._parse_one(value, where)

    def _parse_one(self, value: Any, where: str) -> Any:
        if self.type == "bool":
            return parse.parse_bool(value, where)
        if self.type == "int":
            return parse.parse_int(value, where, minimum=self.minimum, maximum=self.maximum, above=self.above)
        if self.type == "float":
            return parse.parse_float(
                value, where, minimum=self.minimum, maximum=self.maximum, above=self.above
            )
        if self.type == "choice":
            return parse.parse_choice(value, where, self.choices)
        if isinstance(value, (dict, list)):
            raise BadInput(f"{where}: expected a string, got {type(value).__name__}")
        return str(value)

    def describe_help(self) -> str:
        sources = [f"env {n}" for n in self.env_names]
        if self.config:
            sources.append(f"config {self.config}")
        if self.default not in (None, (), [], "", {}) and not self.secret:
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

    @property
    def env_names(self) -> set[str]:
        return {n for o in self.options for n in o.env_names}

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
                params.append(
                    click.Argument(
                        [option.name],
                        nargs=-1 if option.multiple else 1,
                        required=False,
                        metavar=option.metavar,
                    )
                )
                continue
            if not option.flag:
                continue
            decls = ([option.short] if option.short else []) + [_decl(option), option.name]
            kwargs: dict[str, Any] = {
                "default": None,
                "help": option.describe_help(),
                "hidden": option.hidden,
            }
            if option.type == "bool":
                if "/" not in _decl(option):
                    kwargs["is_flag"] = True
                    kwargs["flag_value"] = True
            else:
                kwargs["multiple"] = option.multiple
                kwargs["metavar"] = option.metavar or (
                    "[" + "|".join(option.choices) + "]"
                    if option.choices
                    else option.type.upper()
                    if option.type != "str"
                    else "TEXT"
                )
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


def _raw(
    option: Option, flags: Mapping[str, Any], env: Mapping[str, str], config: Config | None
) -> tuple[Any, str | None]:
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


# -- the declaration: the options dataclass ------------------------------------------------------
OPTION_KEY = "pipekit.option"
T = TypeVar("T")


def option(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    flag: str | None = None,
    env: str | tuple[str, ...] = (),
    config: str | None = None,
    help: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    short: str | None = None,
    metavar: str | None = None,
    hidden: bool = False,
    secret: bool = False,
    argument: bool = False,
    multiple: bool | None = None,
    comma: bool = False,
    required: str | None = None,
    schema: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    pattern: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    kind: Any = None,
    convert: Callable[[Any], Any] | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    """A dataclass field that is also an option (see the module's docstring).

    A field without a default is filled with ``None`` (or ``[]``) when nothing sets it; give it
    ``required="what to pass"`` to make that exit 2 instead. ``pattern``, ``min_length`` and
    ``max_length`` (of each item, for a list) constrain the ``pipekit.yaml`` value through its
    schema, and ``schema`` adds any other JSON schema (a mapping's structure, ``{"$ref": ...}`` to
    a definition in ``pipekit/core/schema/defs.json``). With ``convert``, the option reads a
    ``kind`` (``str`` unless given) and ``convert`` turns that value, or ``default`` as read,
    into the field's value (``"clean verify"`` -> ``["clean", "verify"]``). A secret is left
    out of the dataclass's ``repr``.
    """
    extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = schema
    if not callable(schema):  # a function is called when the schema is generated (its $defs merged in)
        extra = dict(schema or {})
        for key, value in (("pattern", pattern), ("minLength", min_length), ("maxLength", max_length)):
            if value is not None:
                extra[key] = value
    declared = Option(
        "",
        flag,
        env=env,
        config=config,
        help=help,
        minimum=minimum,
        maximum=maximum,
        above=above,
        short=short,
        metavar=metavar,
        hidden=hidden,
        secret=secret,
        argument=argument,
        multiple=multiple,
        comma=comma,
        required=required,
        schema=extra or None,
        choices=choices,
        kind=str if convert is not None and kind is None else kind,
        convert=convert,
    )
    if convert is not None:  # ``default`` is as read; the field's default is what convert makes of it
        raw = None if default is dataclasses.MISSING else default
        declared = dataclasses.replace(declared, default=raw)

        def default_factory() -> Any:
            return convert(raw)

        default = dataclasses.MISSING
    if default is dataclasses.MISSING and default_factory is dataclasses.MISSING:
        default = None
    field: Any = dataclasses.field(
        default=default, default_factory=default_factory, repr=not secret, metadata={OPTION_KEY: declared}
    )
    return field


def ref(name: str) -> dict[str, str]:
    """``{"$ref": "#/$defs/<name>"}``: a definition of the hand-kept ``pipekit/core/schema/defs.json``."""
    return {"$ref": f"#/$defs/{name}"}


def declared(field: dataclasses.Field[Any]) -> Option | None:
    found = field.metadata.get(OPTION_KEY)
    return found if isinstance(found, Option) else None


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _scalar_kind(annotation: Any, where: str) -> tuple[str, tuple[str, ...]]:
    if typing.get_origin(annotation) is Literal:
        return "choice", tuple(str(a) for a in typing.get_args(annotation))
    kinds = {bool: "bool", int: "int", float: "float", str: "str", Path: "path"}
    if annotation in kinds:
        return kinds[annotation], ()
    raise TypeError(f"{where}: no option type for {annotation!r}")


def kind_of(annotation: Any, where: str) -> tuple[str, tuple[str, ...], bool]:
    """(option type, choices, is a list) of a field's annotation."""
    annotation = _unwrap_optional(annotation)
    origin = typing.get_origin(annotation)
    if annotation is Any or annotation in (dict, list) or origin in (dict, Mapping):
        return "data", (), False
    if origin in (list, tuple, Sequence, Iterable):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        item = _unwrap_optional(args[0]) if args else str
        if typing.get_origin(item) in (dict, Mapping) or item in (dict, Any):
            return "data", (), False
        kind, choices = _scalar_kind(item, where)
        return kind, choices, True
    kind, choices = _scalar_kind(annotation, where)
    return kind, choices, False


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


@functools.cache
def _declared(cls: type) -> tuple[tuple[Option, Any], ...]:
    """(the table's row, the annotation it is read as) of each :func:`option` field, in order. Only
    these annotations are evaluated (another field may name a type imported for type checking)."""
    import sys

    found = []
    for field in dataclasses.fields(cls):
        row = declared(field)
        if row is None:
            continue
        hint = row.kind if row.kind is not None else field.type  # with a kind, only convert sees the field's
        if isinstance(hint, str):
            owner = next(k for k in cls.__mro__ if field.name in k.__dict__.get("__annotations__", {}))
            hint = eval(hint, vars(sys.modules[owner.__module__]))  # noqa: S307  # the class's own annotation
        kind, choices, many = kind_of(hint, f"{cls.__name__}.{field.name}")
        if row.choices and kind == "str":  # choices known at run time (a registry's names), not in a Literal
            kind, choices = "choice", row.choices
        multiple = False
        if many and kind != "data":
            multiple = bool(row.flag or row.argument) if row.multiple is None else row.multiple
            if row.comma or not multiple:
                kind = "list" if kind == "str" else kind
                if kind != "list":
                    multiple = True  # a list of choices or paths: one parser per item
        default = row.default if row.convert is not None else _default(field)
        found.append(
            (
                dataclasses.replace(
                    row,
                    name=field.name,
                    type=kind,
                    choices=choices,
                    multiple=multiple,
                    default=tuple(default) if isinstance(default, list) else default,
                ),
                hint,
            )
        )
    return tuple(found)


@functools.cache
def table_of(cls: type) -> OptionTable:
    """The option table an options dataclass declares (its :func:`option` fields, in order)."""
    return OptionTable(row for row, _ in _declared(cls))


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """The options dataclass built from flags, environment, ``pipekit.yaml`` and defaults, with where
    each value came from (for the rare step that treats a flag differently from the file)."""

    options: T
    values: Values

    def source(self, name: str) -> str:
        if name not in self.values:
            raise KeyError(name)
        return self.values.source(name)

    def given(self, name: str) -> bool:
        return self.source(name) != "default"


def resolve(cls: type[T], ctx: Any, flags: Mapping[str, Any] | None = None) -> Resolved[T]:
    """flag > environment > pipekit.yaml > default for every :func:`option` field of ``cls``.

    ``ctx`` is anything with ``env`` and ``config`` (a :class:`~pipekit.core.step.StepContext`).
    Fields that are not options keep their defaults: set them afterwards with
    :func:`dataclasses.replace`.
    """
    return resolve_from(cls, flags or {}, ctx.env, ctx.config)


def resolve_from(
    cls: type[T], flags: Mapping[str, Any], env: Mapping[str, str], config: Config | None
) -> Resolved[T]:
    values = table_of(cls).resolve_from(flags, env, config)  # type: ignore[arg-type]  # a class is hashable
    kwargs: dict[str, Any] = {}
    for row, hint in _declared(cls):  # type: ignore[arg-type]
        value = values[row.name]
        if row.required and value in (None, "", ()):
            raise BadInput(f"missing option {row.primary_flag}: {row.required}")
        value = _as_annotated(value, hint)
        kwargs[row.name] = row.convert(value) if row.convert is not None else value
    return Resolved(cls(**kwargs), values)


def _as_annotated(value: Any, annotation: Any) -> Any:
    """A parsed value in the field's own type: tuples become lists, paths ``Path``, mappings dicts."""
    target = _unwrap_optional(annotation)
    origin = typing.get_origin(target)
    if value is None:
        return [] if origin is list and target is annotation else None
    if origin is list and isinstance(value, (tuple, list)):
        args = typing.get_args(target)
        item = _unwrap_optional(args[0]) if args else None
        return [Path(v) if item is Path and isinstance(v, str) else v for v in value]
    if target is Path and isinstance(value, str):
        return Path(value)
    if origin in (dict, Mapping) and isinstance(value, Mapping):
        return dict(value)
    return value
