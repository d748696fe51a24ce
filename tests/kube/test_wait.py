"""Readiness against the Kubernetes API stand-in over real HTTPS:
rollouts whose early states fool naive checks."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipekit.clients import kubeconfig
from pipekit.clients.kubernetes import AuthRejected, KubernetesClient
from pipekit.core.errors import BadInput, CheckFailed, TimedOut
from pipekit.kube import rollout
from pipekit.kube.targets import Target, parse
from pipekit.kube.wait import Waiter
from pipekit.testing.kubernetes import KubernetesStandIn, Rollout
from pipekit.testing.kubernetes import objects as o
from tests.conftest import self_signed_cert

NS = "shop"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 made by openssl for this test run."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def kube(cert: tuple[str, str]) -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn(tls=cert) as standin:
        yield standin


def service_account(root: Path, kube: KubernetesStandIn, cert: str, namespace: str = NS) -> dict[str, str]:
    """A service-account folder as the kubelet mounts it, and the Pod's environment."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "token").write_text(kube.token)
    (root / "ca.crt").write_text(Path(cert).read_text())
    (root / "namespace").write_text(namespace)
    return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(kube.port)}


@pytest.fixture
def client(tmp_path: Path, kube: KubernetesStandIn, cert: tuple[str, str]) -> KubernetesClient:
    env = service_account(tmp_path / "sa", kube, cert[0])
    return KubernetesClient(kubeconfig.in_cluster(env, tmp_path / "sa"), total_timeout=5, backoff=0.05)


def waiter(client: KubernetesClient, *targets: str, **kwargs: object) -> tuple[Waiter, list[str]]:
    seen: list[str] = []
    w = Waiter(
        client, NS, [parse(t) for t in targets], on_progress=lambda t, v: seen.append(v.message), **kwargs
    )  # type: ignore[arg-type]
    return w, seen


def once_seen(kube: KubernetesStandIn, seen: list[str], *texts: str) -> Callable[[], None]:
    """A scenario action holding the rest of the scenario until the waiter has reported each of ``texts``:
    a state that lasts one short step is then seen however slow the machine is."""

    def hold() -> None:
        deadline = time.monotonic() + 30
        while not all(any(text in message for message in seen) for text in texts):
            if kube.stopping.wait(0.01) or time.monotonic() > deadline:
                return

    return hold


@pytest.mark.slow
def test_waits_past_unobserved_generation_and_a_lingering_old_pod(
    kube: KubernetesStandIn, client: KubernetesClient
) -> None:
    r = Rollout(kube, "orders", NS, replicas=2)
    w, seen = waiter(client, "deployment/orders")
    (_, spec_change), *steps, last_pod_gone = r.steps(step=0.05, linger=0.6)
    spec_change()  # in before the waiter first looks: generation 2, observed generation 1
    kube.play(
        [
            (0.0, once_seen(kube, seen, "spec update to be observed")),
            *steps,
            (0.0, once_seen(kube, seen, "old ReplicaSet still terminating")),
            last_pod_gone,
        ]
    )
    verdicts = w.wait(timeout=10)
    assert verdicts[Target("Deployment", "orders")].ready
    assert r.completed_at is not None and w.ready_at is not None
    assert w.ready_at >= r.completed_at  # not before the last old pod was gone
    assert w.ready_at - r.completed_at < 0.5
    joined = "\n".join(seen)
    assert "Waiting for deployment spec update to be observed..." in joined
    assert "1 pod(s) of an old ReplicaSet still terminating" in joined
    # the state kubectl rollout status calls done was seen and not believed
    kubectl_done = rollout.deployment(kube.get(r.dep) or {})
    assert kubectl_done.ready


def test_stalled_rollout_fails_naming_the_deadline(kube: KubernetesStandIn, client: KubernetesClient) -> None:
    Rollout(kube, "orders", NS).start(step=0.05, stall=True)
    w, _ = waiter(client, "deploy/orders")
    with pytest.raises(
        CheckFailed,
        match=r"deployment/orders: deployment 'orders' exceeded its progress deadline: "
        r"ReplicaSet \"orders-\w+\" has timed out progressing",
    ):
        w.wait(timeout=10)


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff"])
def test_image_pull_backoff_fails_fast_naming_pod_container_reason(
    kube: KubernetesStandIn, client: KubernetesClient, reason: str
) -> None:
    Rollout(kube, "orders", NS).start(step=0.05, waiting=(reason, 'Back-off pulling image "app:2"'))
    w, _ = waiter(client, "deployment/orders")
    started = time.monotonic()
    with pytest.raises(CheckFailed, match=rf"pod 'orders-\w+-\w+' container 'app': {reason} "):
        w.wait(timeout=30)
    assert time.monotonic() - started < 3


@pytest.mark.slow
def test_token_rotated_mid_wait(tmp_path: Path, kube: KubernetesStandIn, cert: tuple[str, str]) -> None:
    env = service_account(tmp_path / "sa", kube, cert[0])
    client = KubernetesClient(kubeconfig.in_cluster(env, tmp_path / "sa"), total_timeout=5, backoff=0.05)
    r = Rollout(kube, "orders", NS, replicas=2)

    def rotate() -> None:
        (tmp_path / "sa" / "token").write_text(kube.rotate_token())  # the old token stops working at once

    kube.play([(0.3, rotate)])
    r.start(step=0.25, linger=0.2)
    w, _ = waiter(client, "deployment/orders", watch_timeout_s=1)  # watches end each second: new requests
    assert w.wait(timeout=15)[Target("Deployment", "orders")].ready
    statuses = [s for _, s in kube.requests]
    assert 401 in statuses  # the old token was refused once, then the file was read again
    assert client.config.credentials.token == kube.token


def test_rejected_token_is_bad_input_naming_the_file(
    tmp_path: Path, kube: KubernetesStandIn, cert: tuple[str, str]
) -> None:
    env = service_account(tmp_path / "sa", kube, cert[0])
    (tmp_path / "sa" / "token").write_text("not-the-token")
    client = KubernetesClient(kubeconfig.in_cluster(env, tmp_path / "sa"))
    with pytest.raises(AuthRejected, match=str(tmp_path / "sa" / "token")):
        client.list(o_resource(), NS)


def o_resource():  # type: ignore[no-untyped-def]
    from pipekit.clients.kubernetes import DEPLOYMENTS

    return DEPLOYMENTS


def test_poll_fallback_when_watch_is_refused(kube: KubernetesStandIn, client: KubernetesClient) -> None:
    kube.faults.no_watch = True
    r = Rollout(kube, "orders", NS, replicas=1)
    r.start(step=0.05, linger=0.1)
    w, _ = waiter(client, "deployment/orders", poll_interval=0.1)
    assert w.wait(timeout=10)[Target("Deployment", "orders")].ready
    assert any("watch=1" in p and s == 405 for p, s in kube.requests)


@pytest.mark.slow
def test_timeout_names_workload_and_last_condition(kube: KubernetesStandIn, client: KubernetesClient) -> None:
    r = Rollout(kube, "orders", NS, replicas=2)
    for _, action in r.steps(step=0, linger=30)[
        :-1
    ]:  # the whole rollout but for its last old pod, terminating
        action()
    w, _ = waiter(client, "deployment/orders")
    with pytest.raises(
        TimedOut,
        match=r"not ready after 0.8s: deployment/orders: Waiting for deployment 'orders': "
        r"1 pod\(s\) of an old ReplicaSet still terminating: orders-.*"
        r"\[Available=True \(MinimumReplicasAvailable\), "
        r"Progressing=True \(NewReplicaSetAvailable\)\]",
    ):
        w.wait(timeout=0.8)


def test_missing_workload_is_bad_input(kube: KubernetesStandIn, client: KubernetesClient) -> None:
    Rollout(kube, "orders", NS)
    w, _ = waiter(client, "deployment/payments")
    with pytest.raises(BadInput, match="deployment/payments not found in namespace 'shop'"):
        w.wait(timeout=5)


def test_statefulset_daemonset_and_pod(kube: KubernetesStandIn, client: KubernetesClient) -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": NS, "generation": 2},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "updateStrategy": {"type": "RollingUpdate"},
        },
        "status": {
            "observedGeneration": 1,
            "readyReplicas": 1,
            "currentRevision": "db-1",
            "updateRevision": "db-2",
        },
    }
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": NS, "generation": 1},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "updateStrategy": {"type": "RollingUpdate"}},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 2,
            "updatedNumberScheduled": 2,
            "numberAvailable": 1,
        },
    }
    rs = o.replicaset(o.deployment("web", NS), 1)
    pod = o.pod(rs, 0, ready=False)
    kube.apply(sts, ds, pod)

    def finish() -> None:
        kube.update(
            sts, lambda s: s["status"].update(observedGeneration=2, currentRevision="db-2", updatedReplicas=1)
        )
        kube.update(ds, lambda d: d["status"].update(numberAvailable=2))
        kube.update(pod, lambda p: o.set_pod_state(p, ready=True))

    w, seen = waiter(client, "sts/db", "ds/agent", f"pod/{pod['metadata']['name']}")
    kube.play(
        [(0.0, once_seen(kube, seen, "statefulset spec update", "daemon set 'agent' rollout")), (0.0, finish)]
    )
    verdicts = w.wait(timeout=10)
    assert all(v.ready for v in verdicts.values())
    assert "Waiting for statefulset spec update to be observed..." in seen
    assert "Waiting for daemon set 'agent' rollout to finish: 1 of 2 updated pods are available..." in seen


def test_kubectl_reads_the_standin(tmp_path: Path, kube: KubernetesStandIn, cert: tuple[str, str]) -> None:
    """The stand-in's shapes are real enough for kubectl 1.32 itself."""
    import json

    Rollout(kube, "orders", NS, replicas=2)
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "s",
                "clusters": [
                    {"name": "s", "cluster": {"server": kube.url, "certificate-authority": cert[0]}}
                ],
                "users": [{"name": "s", "user": {"token": kube.token}}],
                "contexts": [{"name": "s", "context": {"cluster": "s", "user": "s", "namespace": NS}}],
            }
        )
    )
    env = {"KUBECONFIG": str(config), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        ["kubectl", "rollout", "status", "deployment/orders", "--timeout=10s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert 'deployment "orders" successfully rolled out' in out.stdout
    # and pipekit reads the same kubeconfig
    cfg = kubeconfig.load(env)
    assert cfg.namespace == NS and cfg.server == kube.url and cfg.verify == cert[0]


def test_kubeconfig_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config"
    with pytest.raises(BadInput, match=f"{missing}: cannot read the kubeconfig"):
        kubeconfig.load({"KUBECONFIG": str(missing)})
    with pytest.raises(BadInput, match=f"{tmp_path / 'sa' / 'token'}: cannot read the service-account token"):
        kubeconfig.in_cluster({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, tmp_path / "sa")
    assert kubeconfig.resolve_namespace(None, None) == "default"


def test_targets_unknown_kind_lists_supported() -> None:
    with pytest.raises(
        BadInput, match=r"unknown kind 'job'; supported kinds: deployment \(deploy\), statefulset"
    ):
        parse("job/x")
    assert parse("Deployment.apps/orders") == Target("Deployment", "orders")


def test_watch_threads_end_with_the_wait(kube: KubernetesStandIn, client: KubernetesClient) -> None:
    Rollout(kube, "orders", NS)
    w, _ = waiter(client, "deployment/orders")
    w.wait(timeout=5)

    def mirrors() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("kube-mirror-")]

    deadline = time.monotonic() + 15
    while mirrors() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not mirrors()
