"""Midjourney as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `schemas` (inputs and the
wire's models) and `prices.toml`."""

from workers.providers.midjourney.adapter import Midjourney

__all__ = ["Midjourney"]
