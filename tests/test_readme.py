"""The README's Python example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_python_api_example_runs(tmp_path):
    readme = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"## Python API.*?```python\n(.*?)```", readme, re.S)
    assert block, "no Python example in the README"
    code = block.group(1)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PIPEKIT_RUN_RECORD": str(tmp_path / "run.json"),
            "PYTHONPATH": str(REPO_ROOT),
        },
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "critical" in out.stdout
    assert (tmp_path / "run.json").exists()
