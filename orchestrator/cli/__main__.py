"""`python -m orchestrator.cli`: the `genrelay` command."""

from orchestrator.cli.commands import main

main()
