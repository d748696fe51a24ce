"""Scanner report readers: one module per format, chosen by content (see :mod:`.detect`)."""
