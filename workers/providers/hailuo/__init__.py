"""MiniMax Hailuo as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `schemas` (inputs and the
wire's models), `routes` and `projection` (its MiniMax-compatible routes), `simulation` (how the simulator
plays it) and `prices.toml`."""

from workers.providers.hailuo.adapter import Hailuo

__all__ = ["Hailuo"]
