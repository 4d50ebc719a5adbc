"""`GET /metrics` for Prometheus: read from PostgreSQL at scrape time (orchestrator/ops/metrics.py).

Like Flower's `/metrics`, it needs no key: it shows only aggregates (no tenant, no job), and belongs
behind the network boundary that only the scraper crosses.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from orchestrator.api.context import Context
from orchestrator.ops import metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics: jobs, poll lag, webhook backlog, holds")
def prometheus_metrics(request: Request, context: Context) -> Response:
    body, content_type = metrics.render(
        context.db, context.settings.metrics_window_s, request.headers.get("accept")
    )
    return Response(body, media_type=content_type)
