"""Kling as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `schemas` (inputs and the
wire's models) and `prices.toml`."""

from workers.providers.kling.adapter import Kling

__all__ = ["Kling"]
