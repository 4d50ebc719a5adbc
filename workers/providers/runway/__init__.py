"""Runway as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `schemas` (inputs and the
wire's models) and `prices.toml`."""

from workers.providers.runway.adapter import Runway

__all__ = ["Runway"]
