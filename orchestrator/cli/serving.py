"""`genrelay api` and `genrelay metrics`: the HTTP servers, the API's and the Prometheus endpoint's own."""

from __future__ import annotations

import click

from orchestrator.settings import Settings, get_settings


def _serve(app: str, settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn  # noqa: PLC0415 - keep `genrelay --help` instant

    from orchestrator.logs import logging_config  # noqa: PLC0415

    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings),
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        # On SIGTERM: stop accepting, finish in-flight requests for this long, then exit.
        timeout_graceful_shutdown=int(settings.api_shutdown_timeout_s),
    )


@click.command()
@click.option("--workers", default=1, show_default=True, help="Uvicorn worker processes.")
def api(workers: int) -> None:
    """Serve the HTTP API."""
    settings = get_settings()
    _serve("orchestrator.api:create_app", settings, settings.api_host, settings.api_port, workers)


@click.command()
def metrics() -> None:
    """Serve `/metrics` alone, on its own address (GENRELAY_METRICS_HOST, GENRELAY_METRICS_PORT): where
    only the scraper reaches, with the API's port not serving it (GENRELAY_METRICS_ON_API=false)."""
    settings = get_settings()
    _serve("orchestrator.api:create_metrics_app", settings, settings.metrics_host, settings.metrics_port)
