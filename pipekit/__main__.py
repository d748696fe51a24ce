from pipekit.cli import main

main()
