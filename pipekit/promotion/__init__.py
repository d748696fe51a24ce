"""Promotion: the environment chain and its rules (:mod:`.rules`), and the gates (:mod:`.gates`)."""
