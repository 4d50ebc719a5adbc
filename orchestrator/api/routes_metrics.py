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
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator.api.errors import error_responses
from orchestrator.db import Database
from orchestrator.errors import AuthenticationError
from orchestrator.messaging import Dispatcher
from orchestrator.ops import metrics
from orchestrator.settings import Settings

EXPOSITION = {"schema": {"type": "string"}}
TOKEN_SETTING = "GENRELAY_METRICS_TOKEN"  # noqa: S105 - the name of the setting
TOKEN_REFUSED = f"send the metrics token as `Authorization: Bearer <token>` ({TOKEN_SETTING})"


class MetricsSource(Protocol):
    """What a scrape reads: the API's own context, or the metrics server's."""

    settings: Settings
    db: Database
    dispatcher: Dispatcher


@dataclass
class MetricsContext:
    """The metrics server's context: a small pool and a broker client, nothing of the API's."""

    settings: Settings
    db: Database
    dispatcher: Dispatcher


def _source(request: Request) -> MetricsSource:
    source: MetricsSource = request.app.state.context
    return source


Source = Annotated[MetricsSource, Depends(_source)]


METRICS_SCHEME = HTTPBearer(scheme_name="MetricsToken", auto_error=False, description=TOKEN_SETTING)


def _scraper(
    source: Source, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(METRICS_SCHEME)]
) -> None:
    """Refuse a scrape without the metrics token (the routes of a deployment that sets one)."""
    token = source.settings.metrics_token
    given = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else ""
    if token is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise AuthenticationError(TOKEN_REFUSED)


def metrics_router(settings: Settings) -> APIRouter:
    """The `/metrics` route; with a metrics token set, it asks for it, and its document names the token's
    security scheme (`MetricsToken`) and the 401 it answers without it."""
    router = APIRouter(tags=["health"])
    guarded = settings.metrics_token is not None
    refusal = error_responses(401, described={401: "The request did not send the metrics token."})

    @router.get(
        "/metrics",
        summary="Prometheus metrics: jobs, poll lag, webhook backlog, holds",
        response_class=Response,
        dependencies=[Depends(_scraper)] if guarded else [],
        responses={
            200: {
                "description": "The Prometheus text format, or OpenMetrics when `Accept` asks for it.",
                "content": {"text/plain": EXPOSITION, "application/openmetrics-text": EXPOSITION},
            },
            **(refusal if guarded else {}),
        },
    )
    def prometheus_metrics(request: Request, source: Source) -> Response:
        window = source.settings.metrics_window_s
        dead_letters = source.dispatcher.dead_letters()
        body, content_type = metrics.render(source.db, window, request.headers.get("accept"), dead_letters)
        return Response(body, media_type=content_type)

    return router
