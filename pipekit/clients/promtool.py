"""promtool (Prometheus' rule checker and unit tester) and amtool (Alertmanager's configuration checker).

Both are run as they are installed (Debian's ``prometheus`` and ``prometheus-alertmanager``
packages, or the upstream release archives). ``promtool test rules`` tests files one after
another; it names each file on stdout, followed by ``SUCCESS`` or nothing, and writes each
failure's details to stderr in the same order, which is how :func:`test_rules` tells the
files' outcomes apart.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipekit.core import process

TIMEOUT_S = 300.0


@dataclass
class Outcome:
    path: str
    ok: bool
    detail: str = ""


def start_check_rules(paths: Sequence[Path]) -> subprocess.Popen[str]:
    return process.start(["promtool", "check", "rules", *map(str, paths)])


def finish_check_rules(proc: subprocess.Popen[str], paths: Sequence[Path]) -> list[Outcome]:
    """One outcome per rule file: ``SUCCESS: N rules found`` or promtool's complaint."""
    done = process.finish(proc, timeout=TIMEOUT_S, check=False, what="promtool check rules")
    text = done.stdout + "\n" + done.stderr
    outcomes = []
    for path in paths:
        found = re.search(rf"Checking {re.escape(str(path))}\n\s*SUCCESS: (\d+) rules found", text)
        if found:
            outcomes.append(Outcome(str(path), True, found.group(1)))
            continue
        lines = [line.strip() for line in text.splitlines() if line.strip().startswith(f"{path}:")]
        outcomes.append(Outcome(str(path), False, " / ".join(lines) or _tail(text)))
    return outcomes


def start_test_rules(paths: Sequence[Path]) -> subprocess.Popen[str]:
    return process.start(["promtool", "test", "rules", *map(str, paths)])


def finish_test_rules(proc: subprocess.Popen[str], paths: Sequence[Path]) -> list[Outcome]:
    done = process.finish(proc, timeout=TIMEOUT_S, check=False, what="promtool test rules")
    tested = re.findall(r"^Unit Testing:\s+(.+?)\n(\s*SUCCESS)?", done.stdout, flags=re.M)
    failures = [block.strip() for block in re.split(r"^\s*FAILED:\s*$", done.stderr, flags=re.M)[1:]]
    by_path: dict[str, Outcome] = {}
    for name, success in tested:
        if success:
            by_path[name] = Outcome(name, True)
        else:
            by_path[name] = Outcome(name, False, failures.pop(0) if failures else _tail(done.stderr))
    return [
        by_path.get(str(p)) or Outcome(str(p), False, _tail(done.stderr + done.stdout) or "not tested")
        for p in paths
    ]


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join([line for line in text.strip().splitlines() if line.strip()][-lines:])


# -- amtool --------------------------------------------------------------------------------------
def amtool_version() -> tuple[int, int, int] | None:
    """The installed amtool's version, or None when amtool is not installed."""
    import shutil

    if shutil.which("amtool") is None:
        return None
    done = process.run(["amtool", "--version"], timeout=30, check=False)
    found = re.search(r"version (\d+)\.(\d+)\.(\d+)", done.stdout + done.stderr)
    return (int(found.group(1)), int(found.group(2)), int(found.group(3))) if found else None


def check_config(path: Path) -> tuple[bool, str]:
    done = process.run(["amtool", "check-config", str(path)], timeout=60, check=False)
    return done.returncode == 0, _tail(done.stderr + done.stdout, 3)


def routes_test(path: Path, labels: dict[str, str], expected: Sequence[str]) -> tuple[bool, str]:
    """Does an alert with ``labels`` reach exactly ``expected`` receivers, in order?"""
    argv = [
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={path}",
        f"--verify.receivers={','.join(expected)}",
        *(f"{k}={v}" for k, v in labels.items()),
    ]
    done = process.run(argv, timeout=60, check=False)
    return done.returncode == 0, done.stdout.strip() or _tail(done.stderr, 2)
