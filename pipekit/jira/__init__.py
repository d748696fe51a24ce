"""The Jira release gate's domain: which version is released, what its issues block, how to say so.

:mod:`pipekit.jira.version` names the version (flag, git tag, Maven project version through a
pattern); :mod:`pipekit.jira.jql` writes the search; :mod:`pipekit.jira.gate` decides.
"""
