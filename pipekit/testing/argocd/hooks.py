"""Run a rendered PostSync hook for real: a Job whose container calls ``pipekit post-sync-test``.

:class:`PostSyncRunner` is a hook runner for :class:`pipekit.testing.argocd.gitops.GitOpsFollower`.
For each sync it rolls the app's rendered Deployments out on a :class:`KubernetesStandIn` (a new
revision per sync at the replicas the render says, ``0`` included, its last old pod lingering, as on
a real cluster), then runs the hook Job's
``pipekit post-sync-test ...`` arguments as a real process, with the container's ``env`` values, a
kubeconfig for the stand-in in the Job's namespace and the synced revision. The Job's folder
(``<workdir>/<app>/``) plays its container's working directory, and each ``emptyDir`` volume the
container mounts is a folder in it named after the volume: an argument under the mount path (say
``--junit-dir /reports``) is rewritten to that folder, as the mount would make it. Its exit code is the
hook's phase: 0 -> ``Succeeded``; anything else -> ``Failed`` with pipekit's last line, as Argo CD
shows a Job that reached its backoff limit. Hooks that do not call ``post-sync-test`` keep the
stand-in's scripted result.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipekit.core import process
from pipekit.testing.kubernetes import KubernetesStandIn, Rollout
from pipekit.testing.kubernetes.__main__ import kubeconfig


class PostSyncRunner:
    def __init__(
        self,
        kube: KubernetesStandIn,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        step: float = 0.05,
        linger: float = 0.3,
        timeout: float = 300.0,
    ) -> None:
        self.kube, self.workdir = kube, Path(workdir)
        self.env = dict(env or {})
        self.step, self.linger, self.timeout = step, linger, timeout
        self.rollouts: dict[tuple[str, str], Rollout] = {}
        self.runs: list[process.Result] = []

    def __call__(
        self, app: str, revision: str, hook: dict[str, Any], resources: list[dict[str, Any]]
    ) -> tuple[str, str]:
        args = _post_sync_args(hook.get("manifest") or {})
        if args is None:
            return str(hook.get("result", "Succeeded")), "Reached expected number of succeeded pods"
        namespace = str(hook.get("namespace") or "default")
        for item in resources:
            if item.get("kind") == "Deployment":
                self._roll_out(
                    str(item.get("namespace") or namespace), str(item["name"]), int(item.get("replicas", 1))
                )
        home = self.workdir / app
        home.mkdir(parents=True, exist_ok=True)
        args = mounted(args, empty_dirs(hook.get("manifest") or {}, home))
        config = home / "kubeconfig"
        config.write_text(json.dumps(kubeconfig(self.kube.url, self.kube.token, namespace)), encoding="utf-8")
        env = {
            **self.env,
            **_container_env(hook.get("manifest") or {}),
            "KUBECONFIG": str(config),
            "PIPEKIT_GITOPS_REVISION": revision,
            "PIPEKIT_RUN_RECORD": str(home / "run.json"),
        }
        result = process.run(
            [sys.executable, "-m", "pipekit", *args], env=env, cwd=home, timeout=self.timeout, check=False
        )
        self.runs.append(result)
        if result.returncode == 0:
            return "Succeeded", "Reached expected number of succeeded pods"
        last = ([line for line in (result.stderr or result.stdout).splitlines() if line.strip()] or [""])[-1]
        return (
            "Failed",
            f"Job has reached the specified backoff limit (pipekit exit {result.returncode}: {last})",
        )

    def _roll_out(self, namespace: str, name: str, replicas: int) -> None:
        rollout = self.rollouts.get((namespace, name))
        if rollout is None:
            rollout = self.rollouts[(namespace, name)] = Rollout(
                self.kube, name, namespace, replicas=replicas
            )
        rollout.replicas = replicas  # the next revision scales to what the render says
        rollout.start(step=self.step, linger=self.linger)


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    pod = ((manifest.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or [{}]
    return containers[0] if isinstance(containers[0], dict) else {}


def _post_sync_args(manifest: dict[str, Any]) -> list[str] | None:
    """``post-sync-test ...`` from the Job's ``command`` + ``args``
    (``pipekit`` before it or not), or None."""
    if manifest.get("kind") != "Job":
        return None
    container = _container(manifest)
    argv = [str(a) for a in (container.get("command") or [])] + [
        str(a) for a in (container.get("args") or [])
    ]
    return argv[argv.index("post-sync-test") :] if "post-sync-test" in argv else None


def empty_dirs(manifest: dict[str, Any], home: Path) -> dict[str, Path]:
    """Each ``emptyDir`` volume the Job's container mounts: mount path -> ``home/<volume name>`` (made)."""
    pod = ((manifest.get("spec") or {}).get("template") or {}).get("spec") or {}
    empty = {str(v.get("name")) for v in pod.get("volumes") or [] if isinstance(v, dict) and "emptyDir" in v}
    folders = {}
    for mount in _container(manifest).get("volumeMounts") or []:
        if isinstance(mount, dict) and mount.get("name") in empty and mount.get("mountPath"):
            folder = home / str(mount["name"])
            folder.mkdir(parents=True, exist_ok=True)
            folders[str(mount["mountPath"]).rstrip("/") or "/"] = folder
    return folders


def mounted(args: list[str], folders: Mapping[str, Path]) -> list[str]:
    """``args`` with each path under a mount (``/reports``, ``/reports/x.xml``,
    ``--out=/reports/x``) in its folder."""

    def one(arg: str) -> str:
        flag, eq, value = arg.partition("=") if arg.startswith("-") and "=" in arg else ("", "", arg)
        for mount, folder in folders.items():
            if value == mount or value.startswith(mount + "/"):
                return flag + eq + str(folder) + value[len(mount) :]
        return arg

    return [one(a) for a in args]


def _container_env(manifest: dict[str, Any]) -> dict[str, str]:
    return {
        str(e["name"]): str(e["value"])
        for e in _container(manifest).get("env") or []
        if isinstance(e, dict) and "name" in e and "value" in e
    }
