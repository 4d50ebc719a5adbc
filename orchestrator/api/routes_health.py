"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from orchestrator.api.context import Context

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database, broker and storage are reachable")
def readyz(context: Context) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with context.db.transaction() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["broker"] = "ok" if context.dispatcher.ping() else "unreachable"
    try:
        context.storage.check()
        checks["storage"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["storage"] = f"unreachable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
    )
