"""Everything a test Job waits for before its suite: the workloads (:mod:`pipekit.kube.wait`), then
the health URLs (:mod:`pipekit.kube.health`), within one deadline. Returns the namespace used and
the workloads that are ready because they are scaled to 0 (when every one is, there is nothing to
reach: the health URLs are not waited for)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pipekit.kube.targets import Target


def wait_ready(
    env: Mapping[str, str],
    targets: Sequence[Target],
    *,
    namespace: str | None,
    context: str | None,
    service_account: Path,
    timeout: float,
    health_urls: Sequence[str] = (),
    watch: bool = True,
    poll_interval: float = 2.0,
    say: Callable[[str], None] | None = None,
) -> tuple[str | None, list[str]]:
    deadline = time.monotonic() + timeout
    used = namespace
    idle: list[str] = []
    if targets:
        from pipekit.clients import kubeconfig
        from pipekit.clients.kubernetes import KubernetesClient
        from pipekit.kube.wait import Waiter

        cluster = kubeconfig.load(env, context=context, service_account=service_account)
        used = kubeconfig.resolve_namespace(namespace, cluster)
        if say is not None:
            say(
                f"waiting for {', '.join(map(str, targets))} in namespace {used} "
                f"({cluster.source}{', watching' if watch else ', polling'}; up to {timeout:g}s)"
            )

        def progress(target: Target, verdict: object) -> None:
            if say is not None:
                say(f"{target}: {getattr(verdict, 'message', verdict)}")

        waiter = Waiter(
            KubernetesClient(cluster),
            used,
            list(targets),
            watch=watch,
            poll_interval=poll_interval,
            on_progress=progress,
        )
        verdicts = waiter.wait(timeout=max(0.0, deadline - time.monotonic()), said=timeout)
        idle = [str(t) for t, verdict in verdicts.items() if verdict.idle]
    if health_urls and not (targets and len(idle) == len(targets)):
        from pipekit.kube.health import wait_healthy

        wait_healthy(health_urls, deadline, on_progress=say)
    return used, idle
