"""Argo CD domain: judging an Application's state (:mod:`.state`) and showing its progress (:mod:`.view`)."""
