"""The `/_sim/*` control endpoints (no auth): read counters, change the configuration, script
outcomes and refusals, release held tasks, and reset, the HTTP twins of `Simulator`'s methods for
out-of-process drivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from workers.providers.simulation.engine import Outcome, ProviderStats, Refusal, SimConfig, Simulator


class ScriptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    outcomes: list[Outcome]


class ReleaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str


class RefuseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    refusals: list[Refusal]


def router_factory(sim: Simulator) -> APIRouter:
    router = APIRouter(prefix="/_sim")

    @router.get("/stats")
    def stats() -> dict[str, ProviderStats]:
        return sim.stats()

    @router.get("/config")
    def config() -> SimConfig:
        return sim.config

    @router.post("/config", response_model=None)
    def configure(changes: dict[str, Any]) -> SimConfig | JSONResponse:
        try:
            return sim.configure(**changes)
        except ValidationError as exc:
            return JSONResponse({"detail": exc.errors(include_url=False)}, status_code=422)

    @router.post("/script", response_model=None)
    def script(request: ScriptRequest) -> dict[str, int] | JSONResponse:
        return _queued(lambda: sim.script(request.provider, request.outcomes), len(request.outcomes))

    @router.post("/refuse", response_model=None)
    def refuse(request: RefuseRequest) -> dict[str, int] | JSONResponse:
        return _queued(lambda: sim.refuse(request.provider, request.refusals), len(request.refusals))

    @router.post("/release")
    def release(request: ReleaseRequest) -> dict[str, int]:
        return {"released": sim.release(request.provider)}

    @router.post("/reset")
    def reset() -> dict[str, bool]:
        sim.reset()
        return {"reset": True}

    return router


def _queued(queue: Callable[[], None], count: int) -> dict[str, int] | JSONResponse:
    try:
        queue()
    except ValueError as exc:  # an unknown provider
        return JSONResponse({"detail": str(exc)}, status_code=404)
    return {"queued": count}
