"""The HTTP API: unified job routes, account, result files, health; errors mapped in one place."""

from orchestrator.api.app import create_app, create_metrics_app

__all__ = ["create_app", "create_metrics_app"]
