"""The shell scripts a step runs, written the way Bitbucket writes them.

Atlassian's knowledge base shows the script Bitbucket builds from a step: ``set -e``, then for
each command a ``printf`` of ``+ command`` and the command itself, all in one shell (``cd`` and
``export`` carry over); bash when the image has it. ``after-script`` is a second script of the
same form (its commands run until one fails) with ``BITBUCKET_EXIT_CODE`` set to the script's
exit status. A wrapper sources the step's environment, runs one script and records its exit
status and how long its commands took (from ``/proc/uptime``, so that the runner's own cost can
be told apart).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

WRAPPER = """#!/bin/sh
# pipekit run-pipeline: source the step's environment, run a script (and the after-script after it),
# record each one's exit status and timing. $1 script, $2 its status record, $3 the output file,
# $4 BITBUCKET_EXIT_CODE (an after-script run on its own), $5 the after-script, $6 its status record.
exec > "$3" 2>&1
. "${0%/*}/env.sh"
[ -n "$4" ] && export BITBUCKET_EXIT_CODE="$4"
one() {
  cd "$BITBUCKET_CLONE_DIR" || return 1
  read t0 rest < /proc/uptime
  if [ -x /bin/bash ]; then /bin/bash "$1"; else /bin/sh "$1"; fi
  rc=$?
  read t1 rest < /proc/uptime
  printf '%s %s %s\\n' "$rc" "$t0" "$t1" > "$2"
  return $rc
}
one "$1" "$2"
rc=$?
if [ -n "$5" ]; then
  echo "after-script:"
  export BITBUCKET_EXIT_CODE=$rc
  one "$5" "$6"
fi
exit $rc
"""


def script(commands: Sequence[str]) -> str:
    lines = ["set -e"]
    for command in commands:
        lines.append("printf '%s\\n' " + shlex.quote("+ " + command))
        lines.append(command)
    return "\n".join(lines) + "\n"


def environment(values: Mapping[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def read_status(path: Path) -> tuple[int | None, float | None]:
    """(exit status, seconds the commands took) from the wrapper's record; ``None`` where it wrote none."""
    try:
        rc, t0, t1 = path.read_text(encoding="utf-8").split()
        return int(rc), max(0.0, float(t1) - float(t0))
    except (OSError, ValueError):
        return None, None
