"""The simulator's ASGI app: every provider's simulated personality (declared in its package, see
`workers.providers.simulation.http`), result files and the control endpoints over one `Simulator`,
with the callback sender running for the app's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from workers.providers import PROVIDERS
from workers.providers.simulation.callbacks import deliver_callbacks
from workers.providers.simulation.engine import SimConfig, Simulator
from workers.providers.simulation.http import SimRoute
from workers.simulator import control, files
from workers.simulator.personalities import mount_personality, mount_shared


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
    declared = {name: p.simulation for name, p in PROVIDERS.items() if p.simulation is not None}
    for name, simulation in declared.items():
        sim.add_provider(name, simulation.dwell)
    shared: dict[tuple[str, str], list[SimRoute]] = {}
    for simulation in declared.values():
        for route in simulation.routes(sim):
            shared.setdefault((route.method, route.path), []).append(route)
    # The more specific path first: a literal segment wins over a parameter that would match it.
    for routes in sorted(shared.values(), key=lambda routes: routes[0].path.count("{")):
        if len(routes) == 1:
            mount_personality(app, routes[0])
        else:
            mount_shared(app, routes)
    app.include_router(files.router_factory(sim))
    app.include_router(control.router_factory(sim))
    return app
