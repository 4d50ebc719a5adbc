"""`GET /metrics` for Prometheus: read from PostgreSQL at scrape time (orchestrator/ops/metrics.py).

It shows only aggregates (no tenant, no job) and takes no tenant key. Where it is served is the
operator's: on the API's port (GENRELAY_METRICS_ON_API, the default on one machine), or alone on an
address only the scraper reaches (`genrelay metrics`: `create_metrics_app`), as in production; with
GENRELAY_METRICS_TOKEN set it answers only `Authorization: Bearer <that token>`, wherever it is.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request, Response

from orchestrator.api.errors import error_responses
from orchestrator.db import Database
from orchestrator.errors import AuthenticationError
from orchestrator.ops import metrics
from orchestrator.settings import Settings

EXPOSITION = {"schema": {"type": "string"}}
TOKEN_REFUSED = "send the metrics token as `Authorization: Bearer <token>` (GENRELAY_METRICS_TOKEN)"  # noqa: S105


class MetricsSource(Protocol):
    """What a scrape reads: the API's own context, or the metrics server's."""

    settings: Settings
    db: Database


@dataclass
class MetricsContext:
    """The metrics server's context: a small pool, nothing of the API's."""

    settings: Settings
    db: Database


def _source(request: Request) -> MetricsSource:
    source: MetricsSource = request.app.state.context
    return source


Source = Annotated[MetricsSource, Depends(_source)]


def _scraper(request: Request, source: Source) -> None:
    """Refuse a scrape without the metrics token, when the deployment sets one."""
    token = source.settings.metrics_token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.get_secret_value().encode()
    ):
        raise AuthenticationError(TOKEN_REFUSED)


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: jobs, poll lag, webhook backlog, holds",
    response_class=Response,
    dependencies=[Depends(_scraper)],
    responses={
        200: {
            "description": "The Prometheus text format, or OpenMetrics when `Accept` asks for it.",
            "content": {"text/plain": EXPOSITION, "application/openmetrics-text": EXPOSITION},
        },
        **error_responses(
            401, described={401: "The deployment sets a metrics token and the request did not send it."}
        ),
    },
)
def prometheus_metrics(request: Request, source: Source) -> Response:
    body, content_type = metrics.render(
        source.db, source.settings.metrics_window_s, request.headers.get("accept")
    )
    return Response(body, media_type=content_type)
