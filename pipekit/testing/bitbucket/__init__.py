"""A local Bitbucket for tests and rehearsals (HTTP on 127.0.0.1): pull requests on Cloud's REST 2.0
and Data Center's REST 1.0, backed by real bare git repositories that it merges for real.

``BitbucketStandIn`` (:mod:`pipekit.testing.bitbucket.server`) with users, tokens, a merge check
(approvals needed) and scripted faults; the flavours' shapes are :mod:`.cloud` and
:mod:`.datacenter`; merges and state are :mod:`.repos`. From a shell: ``python -m pipekit.testing.bitbucket``.
"""

from pipekit.testing.bitbucket.repos import PullRequest, Repository, User
from pipekit.testing.bitbucket.server import BitbucketStandIn

__all__ = ["BitbucketStandIn", "PullRequest", "Repository", "User"]
