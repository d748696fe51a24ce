"""Notification channels: one module per channel type (:mod:`.teams`, :mod:`.slack`),
named in :mod:`.registry`.

A channel checks its webhook URL, renders a :class:`~pipekit.cards.model.Notification` with its
card module, and sends through the one path of :class:`~.interface.Channel` (the webhook client's
retries; a refusal explained per channel).
"""
