from pipekit import _run_as_cli

_run_as_cli()  # before anything else is imported: nothing comes from the working directory

from pipekit.cli import main  # noqa: E402

main()
