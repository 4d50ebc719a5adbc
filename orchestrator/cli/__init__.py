"""The `genrelay` command line (`commands`) and what only it runs: the all-in-one runner with its
embedded servers and demo, the API client, job watching and batch production."""

from orchestrator.cli.commands import main

__all__ = ["main"]
