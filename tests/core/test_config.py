from pathlib import Path

import pytest

from pipekit.core import config
from pipekit.core.errors import BadInput, ExitCode


def test_scalars_stay_strings_unless_schema_asks():
    cfg = config.parse("version: 1\nservice: 1234567\n")
    assert cfg.data == {"version": 1, "service": "1234567"}


def test_boolean_looking_service_name_stays_string():
    cfg = config.parse("service: true\n")
    assert cfg.get("service") == "true"


def test_unknown_key_names_file_line_and_path(tmp_path: Path):
    f = tmp_path / "pipekit.yaml"
    f.write_text("version: 1\n\nservcie: orders\n")
    with pytest.raises(BadInput) as err:
        config.load(f)
    msg = str(err.value)
    assert str(f) in msg and ":3" in msg or ":1" in msg
    assert "servcie" in msg
    assert err.value.exit_code == ExitCode.BAD_INPUT


def test_wrong_enum_points_at_the_value_line(tmp_path: Path):
    f = tmp_path / "pipekit.yaml"
    f.write_text("# comment\nversion: 7\n")
    with pytest.raises(BadInput) as err:
        config.load(f)
    assert f"{f}:2: version:" in str(err.value)


def test_malformed_yaml_names_line_and_column(tmp_path: Path):
    f = tmp_path / "pipekit.yaml"
    f.write_text("service: [a, b\nversion: 1\n")
    with pytest.raises(BadInput) as err:
        config.load(f)
    assert str(err.value).startswith(f"{f}:")
    assert "malformed YAML" in str(err.value)


def test_duplicate_key_is_an_error():
    with pytest.raises(BadInput, match="duplicate key 'service'"):
        config.parse("service: a\nservice: b\n")


def test_missing_default_file_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert config.load().data == {}


def test_explicit_missing_file_is_bad_input(tmp_path: Path):
    with pytest.raises(BadInput, match="cannot read config"):
        config.load(tmp_path / "nope.yaml")


def test_schema_fragments_merge_without_clashes():
    merged = config.schema()
    assert "service" in merged["properties"]
    assert merged["additionalProperties"] is False
