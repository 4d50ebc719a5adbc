"""Liveness and readiness probes."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from orchestrator.api.context import AppContext, Context
from orchestrator.pipeline import sweeping
from schemas.health import Readiness

router = APIRouter(tags=["health"])

Check = tuple[str, bool]  # what a check found, and whether that is ready


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database, broker and storage are reachable, and the sweep runs",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: `checks` says what is not."}},
)
def readyz(context: Context) -> JSONResponse:
    checks = {
        "database": _database(context),
        "broker": ("ok", True) if context.dispatcher.ping() else ("unreachable", False),
        "storage": _storage(context),
        "sweep": _sweep(context),
    }
    ready = all(ok for _, ok in checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not_ready",
            "checks": {name: found for name, (found, _) in checks.items()},
        },
        200 if ready else 503,
    )


def _database(context: AppContext) -> Check:
    try:
        with context.db.transaction() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
        return f"unreachable: {type(exc).__name__}", False
    return "ok", True


def _storage(context: AppContext) -> Check:
    try:
        context.storage.check()
    except Exception as exc:  # noqa: BLE001
        return f"unreachable: {type(exc).__name__}", False
    return "ok", True


def _sweep(context: AppContext) -> Check:
    """Without sweeps nothing advances (no submit, poll, store or webhook retry) while jobs are still
    accepted: an API whose sweep stopped is not ready."""
    try:
        with context.db.transaction() as session:
            age_s = sweeping.last_sweep_age_s(session)
    except Exception as exc:  # noqa: BLE001
        return f"unknown: {type(exc).__name__}", False
    up_for_s = time.monotonic() - context.started
    return sweeping.sweep_health(age_s, context.settings.sweep_stale_after_s, up_for_s)
