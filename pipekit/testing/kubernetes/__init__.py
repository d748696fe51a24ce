"""A local Kubernetes API stand-in (Deployments, ReplicaSets, Pods, StatefulSets, DaemonSets) over real HTTP.

::

    with KubernetesStandIn() as kube:
        rollout = Rollout(kube, "orders", "shop", replicas=2)   # revision 1, all ready
        rollout.start(linger=0.5)                               # a rolling update to revision 2, over time
        ... KUBERNETES_SERVICE_HOST=127.0.0.1 or a kubeconfig at kube.url with kube.token ...

``python -m pipekit.testing.kubernetes --scenario rollout`` runs it from a shell and prints a kubeconfig.
"""

from pipekit.testing.kubernetes.scenario import Rollout
from pipekit.testing.kubernetes.server import KubernetesStandIn

__all__ = ["KubernetesStandIn", "Rollout"]
