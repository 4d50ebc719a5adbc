"""`genrelay providers` and `genrelay deploy render`: what the provider registry offers, and the deploy
files written from it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orchestrator.settings import get_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="As JSON, for scripts.")
@click.option("--markdown", "as_markdown", is_flag=True, help="As the README's Markdown table.")
def providers(as_json: bool, as_markdown: bool) -> None:
    """List every provider with its operations, models and list prices (in credits)."""
    import json  # noqa: PLC0415

    from orchestrator.ops import catalog  # noqa: PLC0415
    from orchestrator.pricing import load_price_table  # noqa: PLC0415
    from workers.providers import PROVIDERS  # noqa: PLC0415

    described = catalog.catalog(PROVIDERS, load_price_table(get_settings().prices_path))
    if as_json:
        click.echo(json.dumps(described, indent=2))
    elif as_markdown:
        click.echo(catalog.markdown(described), nl=False)
    else:
        from rich.console import Console  # noqa: PLC0415
        from rich.table import Table  # noqa: PLC0415

        table = Table("provider", "operation", "models", "credits")
        for row in catalog.rows(described):
            table.add_row(*row)
        Console().print(table)


@click.group()
def deploy() -> None:
    """The deploy files' generated parts."""


@deploy.command("render")
@click.option(
    "--check", is_flag=True, help="Change nothing; exit 1 if a file is not what the registry renders."
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The repository (its deploy/ folder).",
)
def deploy_render(check: bool, root: Path) -> None:
    """Write the worker queues of compose.yaml, k8s/workers.yaml and k8s/autoscaling.yaml from the
    provider registry."""
    from orchestrator.ops import deploy_files  # noqa: PLC0415
    from workers.providers import PROVIDERS  # noqa: PLC0415

    groups = deploy_files.provider_groups(PROVIDERS)
    if check:
        stale = deploy_files.stale(root, groups)
        for path in stale:
            click.echo(
                f"{path}: not what the provider registry renders (run genrelay deploy render)", err=True
            )
        sys.exit(1 if stale else 0)
    for path in deploy_files.write(root, groups):
        click.echo(f"wrote {path}")
