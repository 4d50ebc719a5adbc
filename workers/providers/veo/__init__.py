"""Veo as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `schemas` (inputs and the
wire's models) and `prices.toml`."""

from workers.providers.veo.adapter import Veo

__all__ = ["Veo"]
