"""Every YAML pipekit reads refuses alias bombs (and self-references) quickly, as bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipekit.core import yamlload
from pipekit.core.errors import BadInput
from tests.conftest import run_pipekit


def bomb(levels: int = 12, key: str = "x") -> str:
    lines = ["a0: &a0 [l, l, l, l, l, l, l, l, l]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"{key}: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def test_a_few_hundred_bytes_of_aliases_in_pipekit_yaml_is_exit_2_at_once(tmp_path: Path) -> None:
    (tmp_path / "pipekit.yaml").write_text("service: orders-api\n" + bomb(9))
    assert len((tmp_path / "pipekit.yaml").read_bytes()) < 500
    started = time.monotonic()
    proc = run_pipekit(
        "scan", "--config", str(tmp_path / "pipekit.yaml"), "nothing.json", cwd=tmp_path, timeout=20
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert "pipekit.yaml" in proc.stderr and "alias" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 5  # a whole python start-up included; the guard itself is below


@pytest.mark.parametrize("reader", ["compose", "load", "load_all"])
def test_every_reader_refuses_a_bomb_in_well_under_a_second(reader: str) -> None:
    started = time.monotonic()
    with pytest.raises(BadInput, match=r"values.yaml: YAML aliases expand"):
        result = getattr(yamlload, reader)(bomb(12), "values.yaml")
        list(result) if reader == "load_all" else None
    assert time.monotonic() - started < 0.5


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(BadInput, match="refers to itself"):
        yamlload.load("a: &a [1, *a]\n", "k.yaml")


def test_ordinary_anchors_and_big_documents_without_aliases_still_load() -> None:
    assert yamlload.load("base: &b {x: 1}\nother: *b\n", "ok.yaml") == {"base": {"x": 1}, "other": {"x": 1}}
    big = "".join(f"k{i}: [1, 2, 3]\n" for i in range(2_000)) + "s: '*'\n"
    assert len(yamlload.load(big, "big.yaml")) == 2_001


def test_a_bomb_in_a_suppressions_file_and_a_kustomization(tmp_path: Path) -> None:
    from pipekit.gitops import kustomization

    with pytest.raises(BadInput, match="overlays/dev/kustomization.yaml: YAML aliases"):
        kustomization.entries("resources: [../../base]\n" + bomb(12), "overlays/dev/kustomization.yaml")
    (tmp_path / "policy.yaml").write_text(bomb(12, "suppressions"))
    proc = run_pipekit(
        "scan",
        "--policy",
        str(tmp_path / "policy.yaml"),
        str(Path(__file__).parents[1] / "fixtures" / "scan" / "trivy-empty.json"),
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "alias" in proc.stderr and "Traceback" not in proc.stderr


def test_deep_nesting_is_bad_input_not_a_crash() -> None:
    with pytest.raises(BadInput):
        yamlload.load("k: " + "[" * 100_000 + "]" * 100_000 + "\n", "deep.yaml")


def test_deep_nesting_in_pipekit_yaml_is_bad_input() -> None:
    from pipekit.core import config

    with pytest.raises(BadInput, match="pipekit.yaml"):
        config.parse("k: " + "[" * 990 + "]" * 990 + "\n")
