"""The pipekit.yaml schema is generated from the option declarations, and the committed file is that."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipekit.cli import option_tables
from pipekit.core import config, config_schema
from pipekit.core.errors import BadInput
from pipekit.core.options import option, ref, table_of


def test_the_committed_schema_is_what_the_declarations_generate() -> None:
    generated = config_schema.dump(config_schema.generate(option_tables().values()))
    assert config_schema.GENERATED.read_text(encoding="utf-8") == generated, (
        "the option declarations changed: run .venv/bin/python scripts/gen_schema.py and commit the schema"
    )


def test_the_constraints_of_the_declarations_reach_the_schema() -> None:
    props = config.schema()["properties"]
    pst = props["post_sync_test"]["properties"]
    assert pst["upload"]["pattern"] == "^s3://"
    assert pst["wait_ready"] == {
        "type": "array",
        "items": {"type": "string", "pattern": "^[A-Za-z.]+/[^/]+$"},
        "description": pst["wait_ready"]["description"],
    }
    assert pst["rerun_failed"]["minimum"] == 0 and pst["rerun_failed"]["maximum"] == 5
    assert props["argocd"]["properties"]["refresh"]["enum"] == ["normal", "hard", "none"]
    assert props["argocd"]["properties"]["timeout"]["exclusiveMinimum"] == 0
    gitops = props["gitops"]["properties"]
    assert (gitops["push_retries"]["minimum"], gitops["push_retries"]["maximum"]) == (0, 100)
    assert gitops["author"]["$ref"] == "#/$defs/gitops_identity"
    assert props["notify"]["properties"]["channels"]["items"] == {"$ref": "#/$defs/notify_channel"}
    assert props["ecr"]["properties"]["registry_id"]["pattern"] == "^[0-9]{12}$"
    assert props["build"]["properties"]["image"]["properties"]["tags"]["items"]["enum"][0] == "sha"
    assert props["version"]["enum"] == [1]


def test_a_definition_extended_by_other_keys_is_written_out_with_them() -> None:
    run = config.schema()["properties"]["scan"]["properties"]["run"]
    assert set(run["properties"]) == {"semgrep", "bandit", "veracode", "srcclr", "trivy", "grype"}
    semgrep = run["properties"]["semgrep"]["properties"]
    assert {"target", "config", "args", "timeout_s"} <= set(semgrep)
    assert config.schema()["properties"]["scan"]["properties"]["fail_on"] == {
        "$ref": "#/$defs/scan_threshold"
    }


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "post_sync_test:\n  upload: https://bucket/x\n",
            r"pipekit.yaml:2: post_sync_test.upload: .* does not match '\^s3://'",
        ),
        (
            "post_sync_test:\n  wait_ready: [orders]\n",
            r"pipekit.yaml:2: post_sync_test.wait_ready.0: 'orders' does not match",
        ),
        (
            "gitops:\n  push_retries: 101\n",
            r"pipekit.yaml:2: gitops.push_retries: 101 is greater than the maximum of 100",
        ),
        ("argocd:\n  refresh: soft\n", r"argocd.refresh: 'soft' is not one of"),
        (
            "build:\n  maven:\n    goal: verify\n",
            r"build.maven: Additional properties are not allowed \('goal'",
        ),
    ],
)
def test_the_schema_refuses_what_the_declarations_refuse(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        config.parse(text, tmp_path / "pipekit.yaml")


def test_a_mapping_option_needs_its_structure_declared() -> None:
    @dataclass
    class Bare:
        settings: dict[str, Any] = option(default_factory=dict, config="x.settings")

    with pytest.raises(ValueError, match="x.settings"):
        config_schema.generate([table_of(Bare)], {"$defs": {}})


def test_two_declarations_of_one_key_must_agree() -> None:
    @dataclass
    class One:
        timeout: float = option(10.0, config="x.timeout", minimum=0)

    @dataclass
    class Other:
        timeout: float = option(10.0, config="x.timeout", minimum=1)
        shape: dict[str, Any] = option(default_factory=dict, config="x.shape", schema=ref("thing"))

    schema = config_schema.generate([table_of(One), table_of(One)], {"$defs": {}})
    assert schema["properties"]["x"]["properties"]["timeout"]["minimum"] == 0
    with pytest.raises(ValueError, match="x.timeout"):
        config_schema.generate([table_of(One), table_of(Other)], {"$defs": {"thing": {"type": "object"}}})
