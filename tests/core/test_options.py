"""The one option resolver and the one parser per type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from pipekit.core import config
from pipekit.core.errors import BadInput
from pipekit.core.options import Option, OptionTable
from pipekit.core.parse import parse_bool, parse_float, parse_int

TABLE = OptionTable(
    [
        Option(
            "offline",
            "--offline",
            env="PIPEKIT_MAVEN_OFFLINE",
            config="maven.offline",
            type="bool",
            default=False,
        ),
        Option(
            "timeout",
            "--timeout",
            env=("PIPEKIT_NOTIFY_TIMEOUT", "PIPEKIT_TIMEOUT"),
            config="notify.timeout",
            type="float",
            default=10.0,
            minimum=0.0,
        ),
        Option("attempts", "--attempts", type="int", default=3, minimum=1),
        Option("mode", "--mode", type="choice", choices=("a", "b"), default="a"),
        Option("tags", "--tag", type="list", multiple=True, env="PIPEKIT_TAGS"),
        Option("token", None, env="PIPEKIT_X_TOKEN", secret=True),
    ]
)


class Ctx:
    def __init__(self, env: dict[str, str], cfg: config.Config | None = None) -> None:
        self.env = env
        self.config = cfg or config.Config()


@pytest.mark.parametrize("text", ["1", "true", "YES", "On", "TRUE"])
def test_true_spellings(text: str) -> None:
    assert parse_bool(text, "x") is True


@pytest.mark.parametrize("text", ["0", "false", "No", "OFF"])
def test_false_spellings(text: str) -> None:
    assert parse_bool(text, "x") is False


def test_on_means_true_for_every_variable() -> None:
    values = TABLE.resolve(Ctx({"PIPEKIT_MAVEN_OFFLINE": "on"}))
    assert (
        values["offline"] is True and values.source("offline") == "environment variable PIPEKIT_MAVEN_OFFLINE"
    )


def test_bad_boolean_names_the_variable_and_value() -> None:
    with pytest.raises(
        BadInput, match=r"environment variable PIPEKIT_MAVEN_OFFLINE: 'maybe' is not a boolean"
    ):
        TABLE.resolve(Ctx({"PIPEKIT_MAVEN_OFFLINE": "maybe"}))


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "ten"])
def test_bad_numbers_are_refused(text: str) -> None:
    with pytest.raises(BadInput, match="PIPEKIT_NOTIFY_TIMEOUT"):
        TABLE.resolve(Ctx({"PIPEKIT_NOTIFY_TIMEOUT": text}))


def test_number_parsers() -> None:
    assert parse_int("+7", "x") == 7 and parse_float("2.5", "x") == 2.5
    with pytest.raises(BadInput):
        parse_int("1.5", "x")
    with pytest.raises(BadInput, match="below the minimum 1"):
        parse_int("0", "flag --attempts", minimum=1)


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    cfg = config.parse("notify:\n  timeout: 7\n", tmp_path / "pipekit.yaml")
    assert TABLE.resolve(Ctx({}, cfg))["timeout"] == 7.0
    assert TABLE.resolve(Ctx({"PIPEKIT_TIMEOUT": "8"}, cfg))["timeout"] == 8.0
    assert TABLE.resolve(Ctx({"PIPEKIT_TIMEOUT": "8"}, cfg), {"timeout": "9"})["timeout"] == 9.0
    assert TABLE.resolve(Ctx({}))["timeout"] == 10.0
    values = TABLE.resolve(Ctx({}, cfg))
    assert values.source("timeout").endswith("pipekit.yaml:2 (notify.timeout)")
    assert not values.given("attempts") and values.given("timeout")


def test_file_value_error_names_file_line_and_key(tmp_path: Path) -> None:
    cfg = config.Config(
        data={"maven": {"offline": "sometimes"}},
        path=tmp_path / "pipekit.yaml",
        lines={("maven", "offline"): 4},
    )
    with pytest.raises(BadInput, match=r"pipekit.yaml:4 \(maven.offline\): 'sometimes' is not a boolean"):
        TABLE.resolve(Ctx({}, cfg))


def test_lists_and_choices() -> None:
    values = TABLE.resolve(Ctx({"PIPEKIT_TAGS": "a, b,,c"}))
    assert values["tags"] == ("a", "b", "c")
    assert TABLE.resolve(Ctx({}), {"tags": ("x", "y,z")})["tags"] == ("x", "y", "z")
    with pytest.raises(BadInput, match=r"flag --mode: 'c' is not one of a, b"):
        TABLE.resolve(Ctx({}), {"mode": "c"})


def test_a_secret_has_no_flag() -> None:
    with pytest.raises(ValueError):
        Option("token", "--token", secret=True)


def test_left_out_flag_is_absent_and_given_default_is_present() -> None:
    seen: list[dict[str, Any]] = []

    @click.command()
    def cmd(**params: Any) -> None:
        from pipekit.core.options import given_flags

        seen.append(given_flags(click.get_current_context(), TABLE, params))

    TABLE.decorate(cmd.callback)  # type: ignore[arg-type]
    cmd.params.extend(TABLE.click_params())
    runner = CliRunner()
    assert runner.invoke(cmd, []).exit_code == 0
    assert runner.invoke(cmd, ["--attempts", "3", "--no-offline", "--tag", "a", "--tag", "b"]).exit_code == 0
    assert seen[0] == {}
    assert seen[1] == {"attempts": "3", "offline": False, "tags": ("a", "b")}
