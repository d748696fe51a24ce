"""Deep nesting in a big (streamed) SARIF file is bad input, as it is in a small one: no memory blow-up."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipekit.reports.readers import sarif
from tests.conftest import REPO_ROOT

DEPTH = 1_000_000


def deep_sarif(path: Path, size: int, depth: int = DEPTH) -> Path:
    head = (
        b'{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[{"tool":'
        b'{"driver":{"name":"deep"}},"results":[{"ruleId":"r","message":{"text":"'
    )
    tail = b'"},"properties":{"x":' + b"[" * depth + b"]" * depth + b"}}]}]}"
    pad = max(0, size - len(head) - len(tail))
    path.write_bytes(head + b"a" * pad + tail)
    return path


def _limit_memory() -> None:  # the test must not take the machine down if the bound is missing
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.slow
def test_a_16_mib_sarif_nested_a_million_deep_is_exit_2_quickly(tmp_path: Path) -> None:
    report = deep_sarif(tmp_path / "deep.sarif", sarif.STREAM_FROM_BYTES)
    assert report.stat().st_size >= 16 * 1024 * 1024
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json")}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pipekit", "scan", str(report)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )  # noqa: PLW1509
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "depth limit" in proc.stderr and "deep.sarif" in proc.stderr
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    "text,depth",
    [
        (b'{"a": "[[[[\\"[[\\\\"}', 1),
        (b'[{"k": [1, {"x": "]]]"}]}]', 4),
        (b'"\\\\\\"[["', 0),
    ],
)
def test_depth_is_counted_outside_strings(text: bytes, depth: int) -> None:
    assert sarif.max_depth(text) == depth
