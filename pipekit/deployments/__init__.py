"""The GitOps history as the system of record: deployments, DORA metrics, history and rollback."""
