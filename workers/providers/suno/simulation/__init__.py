"""Suno as the simulator plays it, as CometAPI serves it (providers.md §4, providers-more.md §5b): tasks
(music, lyrics, stems, concat, uploads) fetched one by one or in batches with `notify_hook` calls, and
the synchronous persona and clip conversion routes."""

from __future__ import annotations

from workers.providers.simulation.engine import Simulator
from workers.providers.simulation.http import SimRoute, Simulation
from workers.providers.simulation.timeline import Dwell
from workers.providers.suno.simulation.book import Book
from workers.providers.suno.simulation.handlers import TaskRoutes
from workers.providers.suno.simulation.sync import SyncRoutes

DWELL = Dwell(submitted=(2.0, 10.0), processing=(60.0, 170.0))


def routes(sim: Simulator) -> list[SimRoute]:
    book = Book(sim)
    tasks, sync = TaskRoutes(book), SyncRoutes(book)
    return [
        SimRoute("POST", "/suno/submit/{action}", tasks.submit),
        SimRoute("POST", "/suno/uploads/audio-url", tasks.upload),
        SimRoute("GET", "/suno/fetch/{task_ref}", tasks.query),
        SimRoute("POST", "/suno/fetch", tasks.query_many),
        SimRoute("POST", "/suno/persona/create", sync.create_persona),
        SimRoute("GET", "/suno/act/{kind}/{clip_ref}", sync.act),
    ]


SIMULATION = Simulation(dwell=DWELL, routes=routes)

__all__ = ["SIMULATION"]
