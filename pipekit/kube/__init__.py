"""Kubernetes domain helpers: which workloads to wait for (:mod:`.targets`), whether one is really
ready (:mod:`.rollout`, pure judgements over API objects) and the wait itself (:mod:`.wait`)."""
