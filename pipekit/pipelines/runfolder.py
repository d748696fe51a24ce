"""The run's folder: step logs, kept artifacts, clones with ``--keep``, and the state ``--from`` continues.

With ``--workdir`` the folder is yours and stays; without it a temporary folder is used and
removed at the end (kept, and named, with ``--keep``). ``state.json`` records which pipeline ran
at which commit, its build number and pipeline UUID, and each step's status, so that a paused or
failed run can be continued with ``--from`` under the same identity, with the artifacts it kept.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from pipekit.core.errors import BadInput

STATE = "state.json"


class RunFolder:
    def __init__(self, workdir: Path | None, keep: bool) -> None:
        self.temporary = workdir is None
        self._lock = threading.Lock()
        self.keep = keep
        if workdir is None:
            self.path = Path(tempfile.mkdtemp(prefix="pipekit-run-"))
        else:
            self.path = workdir.resolve()
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BadInput(f"--workdir {workdir}: cannot create it: {exc.strerror or exc}") from None

    @property
    def kept(self) -> bool:
        return not self.temporary or self.keep

    def state(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.path / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def save_state(self, state: dict[str, Any]) -> None:
        with self._lock:  # parallel steps report their ends from their own threads
            tmp = self.path / (STATE + ".tmp")
            tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
            tmp.replace(self.path / STATE)

    def close(self) -> None:
        if self.temporary and not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


def next_build_number(cache_root: Path) -> int:
    """Bitbucket's build number goes up with every run of the repository's pipelines."""
    counter = cache_root / "build-number"
    try:
        number = int(counter.read_text(encoding="utf-8").strip()) + 1
    except (OSError, ValueError):
        number = 1
    cache_root.mkdir(parents=True, exist_ok=True)
    counter.write_text(str(number), encoding="utf-8")
    return number
