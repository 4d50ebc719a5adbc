"""`GET /metrics` for Prometheus: read from PostgreSQL at scrape time (orchestrator/ops/metrics.py).

Like Flower's `/metrics`, it needs no key: it shows only aggregates (no tenant, no job), and belongs
behind the network boundary that only the scraper crosses.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from orchestrator.api.context import Context
from orchestrator.ops import metrics

router = APIRouter(tags=["health"])


EXPOSITION = {"schema": {"type": "string"}}


@router.get(
    "/metrics",
    summary="Prometheus metrics: jobs, poll lag, webhook backlog, holds",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text format, or OpenMetrics when `Accept` asks for it.",
            "content": {"text/plain": EXPOSITION, "application/openmetrics-text": EXPOSITION},
        }
    },
)
def prometheus_metrics(request: Request, context: Context) -> Response:
    body, content_type = metrics.render(
        context.db, context.settings.metrics_window_s, request.headers.get("accept")
    )
    return Response(body, media_type=content_type)
