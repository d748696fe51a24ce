"""Local stand-ins for outside systems, for tests and for rehearsing a pipeline on a laptop.

- :mod:`pipekit.testing.sink`: a webhook sink (Teams Workflows / Slack incoming webhooks)
  on 127.0.0.1 that records every request and can be told to answer 429, 500 or slowly.

Modules here are imported by name only; importing the package loads nothing heavy.
"""
