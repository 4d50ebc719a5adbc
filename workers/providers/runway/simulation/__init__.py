"""Runway as the simulator plays it, its official API as CometAPI passes it through (providers.md §3a):
create, query and cancel under `/runwayml/v1/...` and Runway's own `/v1/...`, FIFO org concurrency
(THROTTLED), and the task object, bare or in CometAPI's new-api envelope. Knobs of its own live at
`/_sim/runway/config`."""

from __future__ import annotations

from workers.providers.runway.simulation.handlers import INPUTS, RunwayRoutes
from workers.providers.runway.simulation.org import PROVIDER, RunwaySettings, RunwayState, state_for
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.http import SimRoute, Simulation
from workers.providers.simulation.timeline import Dwell

# Runway's own sizing example assumes ~15 s a video; CometAPI's one sample took ~6 min.
DWELL = Dwell(submitted=(1.0, 8.0), processing=(15.0, 120.0))
PREFIXES = ("/runwayml/v1", "/v1")


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = RunwayRoutes(sim, state_for(sim))
    declared: list[SimRoute] = []
    for prefix in PREFIXES:
        declared += [SimRoute("POST", f"{prefix}/{operation}", handlers.create) for operation in INPUTS]
        declared.append(SimRoute("GET", f"{prefix}/tasks/{{task_ref}}", handlers.query))
        declared.append(SimRoute("DELETE", f"{prefix}/tasks/{{task_ref}}", handlers.cancel))
    declared += [SimRoute(method, "/_sim/runway/config", handlers.config) for method in ("GET", "POST")]
    return declared


SIMULATION = Simulation(dwell=DWELL, routes=routes)

__all__ = ["PROVIDER", "SIMULATION", "RunwaySettings", "RunwayState", "state_for"]
