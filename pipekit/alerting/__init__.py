"""Alerting: the alert rules init writes for a service, their promtool unit tests, Alertmanager routing."""
