"""Onboarding a service: the files ``pipekit init`` generates, the checks they pass, and upgrades.

``answers`` (what the user told init, validated), ``render`` (answers -> files, from the
templates shipped as package data), ``checks`` (schemas, the pipeline lint, kustomize renders),
``plan`` (what to write: new, unchanged, hand-edited, three-way merged) and ``record``
(``.pipekit/init.yaml`` and the generated baselines under ``.pipekit/init/``).
"""
