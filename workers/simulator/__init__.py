"""A fake upstream speaking the providers' wire formats over real HTTP, with scripted outcomes,
injected faults, callbacks and counters, for genrelay's tests, demos and benchmarks."""

from workers.simulator.app import SIMULATED_PROVIDERS, create_app
from workers.simulator.engine import Outcome, SimConfig, Simulator

__all__ = ["SIMULATED_PROVIDERS", "Outcome", "SimConfig", "Simulator", "create_app"]
