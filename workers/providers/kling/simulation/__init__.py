"""Kling as the simulator plays it: `routes` (the HTTP face), `bodies` (what a create may carry),
`tasks` (the task object), `videos` (which videos a follow-up may name)."""

from workers.providers.kling.simulation.routes import SIMULATION

__all__ = ["SIMULATION"]
