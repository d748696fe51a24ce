"""Where a step's commands run: inside its image (``image``) or, when no local image exists,
on this machine (``host``).

pip-audit style: :mod:`.interface` is the contract, one module per implementation, and
:func:`pipekit.pipelines.execution.interface.choose` picks one for a step.
"""
