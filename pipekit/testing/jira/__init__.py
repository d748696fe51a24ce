"""A local Jira for tests and rehearsals (HTTP on 127.0.0.1): project versions and paged issue search.

``JiraStandIn`` (:mod:`pipekit.testing.jira.server`) follows Jira Cloud's REST v3 and Data Center's
REST v2 endpoints and their paging, with Jira's error shape and scripted faults; the JQL it
understands is :mod:`pipekit.testing.jira.jql`. From a shell: ``python -m pipekit.testing.jira``.
"""

from pipekit.testing.jira.server import Fault, Issue, JiraStandIn, Version

__all__ = ["Fault", "Issue", "JiraStandIn", "Version"]
