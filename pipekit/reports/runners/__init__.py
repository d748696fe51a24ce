"""Scanner runners for ``pipekit scan --run``: one module per scanner, named in :mod:`.registry`."""
