"""Midjourney as the simulator plays it, as CometAPI and midjourney-proxy serve it (providers.md §1):
submit (imagine, blend, describe, action, modal), fetch and list-by-condition under `/mj/...` (also
behind a mode prefix), the task object with its buttons, a callback on every progress tick, and the
MODAL pause of some actions."""

from __future__ import annotations

from workers.providers.midjourney.simulation.handlers import PROVIDER, MidjourneyRoutes
from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.http import SimRoute, Simulation
from workers.providers.simulation.timeline import Dwell

DWELL = Dwell(submitted=(2.0, 10.0), processing=(30.0, 100.0))  # Fast mode
PREFIXES = ("", "/mj-fast", "/mj-relax", "/mj-turbo")


def routes(sim: Simulator) -> list[SimRoute]:
    handlers = MidjourneyRoutes(sim)
    return [
        route
        for prefix in PREFIXES
        for route in (
            SimRoute("POST", f"{prefix}/mj/submit/{{kind}}", handlers.submit),
            SimRoute("GET", f"{prefix}/mj/task/{{task_id}}/fetch", handlers.fetch),
            SimRoute("POST", f"{prefix}/mj/task/list-by-condition", handlers.list_by_condition),
        )
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)

__all__ = ["PROVIDER", "SIMULATION", "MidjourneyRoutes"]
