"""`genrelay openapi`: write (or check) the API document the repository publishes."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("openapi")
@click.option(
    "--check", is_flag=True, help="Change nothing; exit 1 if the file is not the API's current document."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("openapi.json"),
    show_default=True,
    help="Where the document is published.",
)
def openapi(check: bool, output: Path) -> None:
    """Write the API's OpenAPI document to OUTPUT, for clients generated without a running genrelay."""
    from orchestrator.api import published  # noqa: PLC0415 - keep `genrelay --help` instant

    if check:
        if not published.is_current(output):
            click.echo(f"{output}: not the API's current document (run genrelay openapi)", err=True)
            sys.exit(1)
        return
    output.write_text(published.render(), encoding="utf-8")
    click.echo(f"wrote {output}")
