"""Edits to a Kustomize GitOps repository: surgical YAML edits, image entries, Helm values, layout."""
