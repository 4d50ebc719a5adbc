"""Suno as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `schemas` (inputs and the
wire's models) and `prices.toml`."""

from workers.providers.suno.adapter import Suno

__all__ = ["Suno"]
