"""A fake upstream speaking the providers' wire formats over real HTTP, with scripted outcomes,
injected faults, callbacks and counters, for genrelay's tests, demos and benchmarks."""

from workers.providers.simulation.engine import Outcome, SimConfig, Simulator
from workers.simulator.app import create_app

__all__ = ["Outcome", "SimConfig", "Simulator", "create_app"]
