"""pipekit: small, composable CI/CD pipeline steps."""

__version__ = "0.1.0"


def _run_as_cli() -> None:
    """Under ``python -m pipekit[.<step>]`` drop the working directory from ``sys.path`` (``python -m``
    put it first; the ``pipekit`` script does not): one rule for both, nothing is imported from it."""
    import os
    import sys

    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name.split(".")[0] == "pipekit":
        here = os.getcwd()
        sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != here]
