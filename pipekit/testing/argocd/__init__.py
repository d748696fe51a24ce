"""A local Argo CD API stand-in for tests and pipeline rehearsals (HTTP on 127.0.0.1).

``ArgoCDStandIn`` serves the Argo CD REST API shapes pipekit uses, driven by scenarios (timed
sequences of application states, see :data:`pipekit.testing.argocd.apps.DEFAULTS` for the
state keys) with fault injection; ``GitOpsFollower`` makes it follow a local GitOps repository.
Run it by hand with ``python -m pipekit.testing.argocd --help``.
"""

from pipekit.testing.argocd.apps import DEFAULTS, AppModel, deep_merge
from pipekit.testing.argocd.server import ArgoCDStandIn, Faults

__all__ = ["DEFAULTS", "AppModel", "ArgoCDStandIn", "Faults", "deep_merge"]
