import os
import sys

# `python -m pipekit` puts the working directory first on sys.path; the `pipekit` script does not.
# One rule for both: nothing is imported from the working directory (a yaml.py or a gate module
# lying there is not code pipekit runs). pipekit itself is imported already.
sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.abspath(p) != os.getcwd()]

from pipekit.cli import main  # noqa: E402

main()
