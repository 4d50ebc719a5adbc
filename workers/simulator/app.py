"""The simulator's ASGI app: every simulated provider's routes, result files and the control
endpoints over one `Simulator`, with the callback sender running for the app's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping

from fastapi import APIRouter, FastAPI

from workers.simulator import control, files, kling, midjourney, runway, suno, veo
from workers.simulator.callbacks import deliver_callbacks
from workers.simulator.engine import SimConfig, Simulator

# A provider is simulated by one module with a `router_factory` and one line here.
SIMULATED_PROVIDERS: Mapping[str, Callable[[Simulator], APIRouter]] = {
    "veo": veo.router_factory,  # before kling, whose GET /v1/{f}/{n}/{ref} matches /v1/videos/{id}/content
    "kling": kling.router_factory,
    "midjourney": midjourney.router_factory,
    "runway": runway.router_factory,
    "suno": suno.router_factory,
}


def create_app(simulator: Simulator | None = None, config: SimConfig | None = None) -> FastAPI:
    """An app over `simulator`, or over a new one built from `config` (not both)."""
    if simulator is not None and config is not None:
        raise ValueError("pass a simulator or a config, not both")
    sim = simulator if simulator is not None else Simulator(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sender = asyncio.create_task(deliver_callbacks(sim))
        try:
            yield
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    app = FastAPI(title="genrelay upstream simulator", lifespan=lifespan)
    app.state.simulator = sim
    for router_factory in SIMULATED_PROVIDERS.values():
        app.include_router(router_factory(sim))
    app.include_router(files.router_factory(sim))
    app.include_router(control.router_factory(sim))
    return app
