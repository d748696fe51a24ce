"""Options declared once, on the options dataclass: the table, the types and the values derive from it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pytest

from pipekit.core import config
from pipekit.core.errors import BadInput
from pipekit.core.options import option, resolve, table_of


@dataclass
class Example:
    target: str = option(flag="--to", required="name the target environment")
    timeout: float = option(10.0, flag="--timeout", env="PIPEKIT_X_TIMEOUT", config="x.timeout", above=0)
    attempts: int = option(3, flag="--attempts", minimum=1, maximum=9)
    offline: bool = option(False, flag="--offline", env="PIPEKIT_X_OFFLINE")
    mode: Literal["merge", "squash"] = option("merge", flag="--mode", config="x.mode")
    ready: list[str] = option(default_factory=list, flag="--wait-ready", env="PIPEKIT_X_READY")
    environments: list[str] = option(default_factory=lambda: ["dev", "qa"], flag="--environments", comma=True)
    kinds: list[Literal["a", "b"]] = option(default_factory=list, config="x.kinds")
    out: Path = option(Path("out"), flag="--out")
    upload: str | None = option(flag="--upload")
    settings: dict[str, Any] = option(default_factory=dict, config="x.settings")
    token: str | None = option(env="PIPEKIT_X_TOKEN", secret=True)
    derived: str = "not an option"
    later: list[str] = field(default_factory=list)


class Ctx:
    def __init__(self, env: dict[str, str] | None = None, data: dict[str, Any] | None = None) -> None:
        self.env = env or {}
        self.config = config.Config(data=data or {}, path=Path("pipekit.yaml"))


def test_the_table_derives_types_from_the_annotations() -> None:
    table = table_of(Example)
    kinds = {o.name: (o.type, o.multiple) for o in table}
    assert kinds == {
        "target": ("str", False),
        "timeout": ("float", False),
        "attempts": ("int", False),
        "offline": ("bool", False),
        "mode": ("choice", False),
        "ready": ("str", True),
        "environments": ("list", True),
        "kinds": ("choice", True),
        "out": ("path", False),
        "upload": ("str", False),
        "settings": ("data", False),
        "token": ("str", False),
    }
    assert table["mode"].choices == ("merge", "squash")
    assert "derived" not in {o.name for o in table} and "later" not in {o.name for o in table}
    assert table["token"].secret and table["token"].flag is None


def test_values_arrive_in_the_fields_types() -> None:
    opts = resolve(
        Example,
        Ctx({"PIPEKIT_X_READY": "deployment/a, pod/b", "PIPEKIT_X_OFFLINE": "on"}),
        {"target": "qa", "environments": ("dev,qa,prod",), "out": "reports"},
    ).options
    assert opts.target == "qa" and opts.offline is True
    assert opts.ready == ["deployment/a", "pod/b"]
    assert opts.environments == ["dev", "qa", "prod"]
    assert opts.out == Path("reports") and opts.upload is None and opts.settings == {}
    assert opts.derived == "not an option" and opts.later == []
    assert replace(opts, derived="set").derived == "set"


def test_defaults_apply_when_nothing_sets_a_value() -> None:
    opts = resolve(Example, Ctx(), {"target": "qa"}).options
    assert (opts.timeout, opts.attempts, opts.mode, opts.environments, opts.kinds) == (
        10.0,
        3,
        "merge",
        ["dev", "qa"],
        [],
    )


def test_required_option_missing_is_exit_2_naming_the_flag() -> None:
    with pytest.raises(BadInput, match="missing option --to: name the target environment"):
        resolve(Example, Ctx(), {})


def test_precedence_and_sources() -> None:
    ctx = Ctx({"PIPEKIT_X_TIMEOUT": "5"}, {"x": {"timeout": 7, "mode": "squash", "kinds": ["a", "b"]}})
    resolved = resolve(Example, ctx, {"target": "qa"})
    assert (
        resolved.options.timeout == 5.0
        and resolved.source("timeout") == "environment variable PIPEKIT_X_TIMEOUT"
    )
    assert resolved.options.mode == "squash" and resolved.source("mode").endswith("(x.mode)")
    assert resolved.options.kinds == ["a", "b"]
    assert not resolved.given("attempts")
    flag = resolve(Example, ctx, {"target": "qa", "timeout": "2"})
    assert flag.options.timeout == 2.0 and flag.source("timeout") == "flag --timeout"


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"attempts": "10"}, "flag --attempts: '10' is above the maximum 9"),
        ({"mode": "rebase"}, "flag --mode: 'rebase' is not one of merge, squash"),
        ({"timeout": "0"}, "flag --timeout: '0' is not a number more than 0"),
    ],
)
def test_bad_values_name_their_source(flags: dict[str, str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        resolve(Example, Ctx(), {"target": "qa", **flags})


def test_a_list_of_choices_checks_each_item() -> None:
    with pytest.raises(BadInput, match="'c' is not one of a, b"):
        resolve(Example, Ctx({}, {"x": {"kinds": ["a", "c"]}}), {"target": "qa"})


def test_an_annotation_without_an_option_type_is_refused_when_the_table_is_made() -> None:
    @dataclass
    class Bad:
        when: complex = option(flag="--when")

    with pytest.raises(TypeError, match="Bad.when"):
        table_of(Bad)
