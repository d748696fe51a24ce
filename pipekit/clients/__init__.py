"""Small clients, one per outside system (git, Argo CD, ECR, AWS, container tools, Maven,
webhooks, Bitbucket).

A client knows its system and nothing of pipelines; steps in ``pipekit/<step>.py`` wire them.
"""
