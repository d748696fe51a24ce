"""What a notification says (:mod:`.model`) and how each channel shows it.

- :mod:`.model`: the :class:`~.model.Notification` built from the event, the pipeline context
  and the run record; knows nothing of Teams or Slack.
- :mod:`.text`: escaping and truncation, one function per format.
- :mod:`.teams`: the Adaptive Card 1.4 and its message envelope, kept under 28 KB.
- :mod:`.slack`: Slack blocks with a text fallback, kept within Slack's block limits.
- :mod:`.render`: a readable terminal rendering of a sent payload (rehearsal, --debug).
"""
