"""The pure readiness judgements (kubectl's rules and pipekit's additions) on hand-made objects."""

from __future__ import annotations

from pipekit.kube import rollout
from pipekit.testing.kubernetes import objects as o


def sts(**status: object) -> dict:
    return {
        "metadata": {"name": "db", "generation": 3},
        "spec": {
            "replicas": 3,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        },
        "status": {"observedGeneration": 3, "readyReplicas": 3, **status},
    }


def test_statefulset_partition() -> None:
    assert (
        rollout.statefulset(sts(updatedReplicas=0)).message
        == "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated..."
    )
    assert rollout.statefulset(sts(updatedReplicas=1)).ready
    assert (
        rollout.statefulset(sts(observedGeneration=0)).message
        == "Waiting for statefulset spec update to be observed..."
    )


def test_ondelete_strategies_fail_as_kubectl_does() -> None:
    ds = {"metadata": {"name": "agent"}, "spec": {"updateStrategy": {"type": "OnDelete"}}, "status": {}}
    assert rollout.daemonset(ds).failure and "RollingUpdate" in (rollout.daemonset(ds).failure or "")


def test_selector_match_expressions() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
    }
    assert rollout.matches(selector, {"app": "web", "tier": "b"})
    assert not rollout.matches(selector, {"app": "web", "tier": "c"})
    assert not rollout.matches(None, {"app": "web"})


def test_an_old_pod_crash_looping_does_not_fail_the_new_rollout() -> None:
    dep = o.deployment("web", "ns", replicas=1)
    old_rs = o.replicaset(dep, 1, replicas=1)
    dep["metadata"]["annotations"][o.REVISION] = "2"
    new_rs = o.replicaset(dep, 2, replicas=1)
    crashing_old = o.pod(old_rs, 0, waiting=("CrashLoopBackOff", "back-off"))
    new_pod = o.pod(new_rs, 0, ready=False)
    verdict = rollout.deployment_ready(dep, [old_rs, new_rs], [crashing_old, new_pod])
    assert verdict.failure is None
    crashing_new = o.pod(new_rs, 0, waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container"))
    verdict = rollout.deployment_ready(dep, [old_rs, new_rs], [crashing_new])
    assert verdict.failure and "container 'app': CrashLoopBackOff (back-off 5m0s" in verdict.failure


def test_pod_phase_failed_fails() -> None:
    rs = o.replicaset(o.deployment("web", "ns"), 1)
    p = o.pod(rs, 0)
    p["status"]["phase"], p["status"]["reason"] = "Failed", "Evicted"
    assert rollout.pod(p).failure == f"pod {p['metadata']['name']!r} failed: Evicted"
