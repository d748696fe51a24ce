"""Scenario files for the stand-in: apps, their timed states and the faults, in YAML or JSON.

```yaml
apps:
  orders-dev:
    project: default             # optional
    initial: {revision: 1111111111111111111111111111111111111111}
    start: now                   # now | refresh (first ?refresh=) | sync (first POST .../sync)
    steps:                       # [delay_s, state patch]; delays count from the previous step
      - [0.5, {revision: 2222222222222222222222222222222222222222, sync: OutOfSync}]
      - [1.0, {phase: Running, health: Progressing, hooks: [{name: smoke, phase: Running}]}]
      - [1.0, {phase: Succeeded, health: Healthy, hooks: [{name: smoke, phase: Succeeded}]}]
faults: {fail_next: 0, reset_next: 0, drop_stream_after: 0, token_ttl: null, stall: false}
```
State keys: see :data:`pipekit.testing.argocd.apps.DEFAULTS`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pipekit.core import yamlload
from pipekit.testing.argocd.server import ArgoCDStandIn, Faults, Step


def load(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yamlload.load(text, str(path))
    if not isinstance(data, dict) or not isinstance(data.get("apps"), dict):
        raise ValueError(f"{path}: a scenario needs an 'apps' mapping")
    return data


def _steps(raw: Any, where: str) -> list[Step]:
    steps: list[Step] = []
    for i, item in enumerate(raw or []):
        if isinstance(item, dict) and "state" in item:
            steps.append((float(item.get("after", 0)), dict(item["state"])))
        elif isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], dict):
            steps.append((float(item[0]), dict(item[1])))
        else:
            raise ValueError(
                f"{where}.steps[{i}]: expected [delay_s, {{state}}] or {{after: s, state: {{...}}}}"
            )
    return steps


def apply(standin: ArgoCDStandIn, scenario: dict[str, Any]) -> None:
    """Add the scenario's apps to ``standin``, set its faults and schedule the steps."""
    for key, value in (scenario.get("faults") or {}).items():
        if not hasattr(Faults, key) and key not in Faults.__dataclass_fields__:
            raise ValueError(f"faults.{key}: unknown fault; known: {sorted(Faults.__dataclass_fields__)}")
        setattr(standin.faults, key, tuple(value) if isinstance(value, list) else value)
    waiting: dict[str, dict[str, list[Step]]] = {"refresh": {}, "sync": {}}
    for name, spec in scenario["apps"].items():
        spec = spec or {}
        standin.add_app(name, project=spec.get("project", "default"), **(spec.get("initial") or {}))
        steps = _steps(spec.get("steps"), f"apps.{name}")
        start = spec.get("start", "now")
        if start == "now":
            standin.play(name, steps)
        elif start in waiting:
            waiting[start][name] = steps
        else:
            raise ValueError(f"apps.{name}.start: {start!r} is not now, refresh or sync")
    lock = threading.Lock()

    def trigger(kind: str, name: str) -> None:
        with lock:
            steps = waiting[kind].pop(name, None)
        if steps is not None:
            standin.play(name, steps)

    if waiting["refresh"]:
        standin.on_refresh = lambda name, _kind: trigger("refresh", name)
    if waiting["sync"]:
        standin.on_sync = lambda name, _body: trigger("sync", name)
