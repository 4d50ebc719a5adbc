"""Midjourney as a genrelay provider: `adapter` (HTTP), `wire` (pure parsing), `schemas` (inputs and the
wire's models), `routes`, `envelope` and `projection` (its `/mj/...` compatible routes) and `prices.toml`."""

from workers.providers.midjourney.adapter import Midjourney

__all__ = ["Midjourney"]
