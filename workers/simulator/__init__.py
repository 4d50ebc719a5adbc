"""A fake upstream speaking the providers' wire formats over real HTTP, with scripted outcomes,
injected faults, callbacks and counters, for genrelay's tests, demos and benchmarks."""

from workers.providers.simulation.engine import Outcome, Refusal, SimConfig, Simulator, SubmitFault
from workers.simulator.app import create_app

__all__ = ["Outcome", "Refusal", "SimConfig", "Simulator", "SubmitFault", "create_app"]
