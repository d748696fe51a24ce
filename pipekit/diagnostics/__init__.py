"""What ``pipekit doctor`` checks: one module per kind of check, one registry (:mod:`.registry`).

A check kind is a function ``checks(plan) -> list[Check]``; each :class:`~.check.Check` runs on
its own (in parallel with the others) and returns a :class:`~.check.CheckOutcome`: ok, warning,
failed or skipped, with a one-line summary and, when it is not ok, the fix.
"""
